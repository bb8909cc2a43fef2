"""The HTML building blocks of the run report: escaping, tables, cards, figures, the page.

Every block escapes the text it is given, once, when it renders it: callers pass plain
text (names, paths and ids from input files included) and never pre-escaped HTML, except
to :func:`page`, which joins blocks already rendered.  Figures are embedded as base64
data URIs and the style sheet is inline, so a page loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from string import Template

import pandas as pd

from coverage.outputs.style import OKABE_ITO

__all__ = ["Cell", "card", "escape", "figure", "key_value_table", "numeric", "page", "plain_text", "table"]

# the accent of headings, cards and links is the palette's blue, as on the figures
_CSS = Template("""
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;
margin:0;background:#f6f6f4}
main{max-width:1120px;margin:0 auto;padding:1.2em 1.6em 3em;background:#fff}
h1{font-size:1.55em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.8em;border-bottom:2px solid $accent;
padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.3em}
small,.en{color:#666;font-weight:normal}.meta{color:#555;font-size:.9em}
code{font:13px/1.3 ui-monospace,Menlo,Consolas,monospace;background:#f0f0f0;padding:.1em .3em;
word-break:break-all}
pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f4f4f4;padding:.8em;overflow:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.7em;margin:1em 0}
.card{border:1px solid #ddd;border-left:4px solid $accent;padding:.5em .8em;border-radius:3px}
.card .v{font-size:1.35em;font-weight:600}.card .l{font-size:.85em;color:#444}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef3f8;font-weight:600}tr:nth-child(even) td{background:#fafafa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}caption{caption-side:bottom;text-align:left;padding-top:.3em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}details{margin:.5em 0 1em}summary{cursor:pointer;color:$accent}
.note{font-size:.88em;color:#555}
""").substitute(accent=OKABE_ITO[0])


def escape(value: object) -> str:
    """Escaped text of any value (empty for None/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


class Cell:
    """A table cell: plain text (escaped when rendered), right-aligned when numeric."""

    __slots__ = ("numeric", "text")

    def __init__(self, text: object, *, numeric: bool = False) -> None:
        self.text = "" if text is None else str(text)
        self.numeric = numeric


def numeric(text: str) -> Cell:
    """A right-aligned cell of a number already formatted (see :mod:`coverage.outputs.style`)."""
    return Cell(text, numeric=True)


def table(headers: Sequence[object], rows: Iterable[Sequence[object]], *, caption: str | None = None) -> str:
    """An HTML table; every header and cell is escaped here, once."""

    def cell(tag: str, value: object) -> str:
        if isinstance(value, Cell):
            cls = ' class="n"' if value.numeric else ""
            return f"<{tag}{cls}>{escape(value.text)}</{tag}>"
        return f"<{tag}>{escape(value)}</{tag}>"

    head = "".join(cell("th", h) for h in headers)
    body = "\n".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption class='note'>{escape(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>'


def plain_text(value: object) -> str:
    """A parameter value as text: lists joined by commas, floats short, mappings as JSON."""
    if isinstance(value, list | tuple):
        return ", ".join(plain_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def key_value_table(pairs: Iterable[tuple[str, object]]) -> str:
    """A two-column table of parameters and their values."""
    return table(["Paramètre (parameter)", "Valeur (value)"], [[k, Cell(plain_text(v))] for k, v in pairs])


def card(value: str, label: str) -> str:
    """A key figure: the value in large type above its label."""
    return f'<div class="card"><div class="v">{escape(value)}</div><div class="l">{escape(label)}</div></div>'


def figure(png: bytes, alt: str, caption: str) -> str:
    """A PNG embedded as a data URI, so that the page needs no file beside it."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def page(title: str, blocks: Iterable[str], *, lang: str = "fr") -> str:
    """A whole HTML document: the inline style sheet and the non-empty ``blocks``, in order."""
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(b for b in blocks if b)
        + "\n</main>\n</body>\n</html>\n"
    )
