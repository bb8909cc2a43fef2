"""An Excel workbook (``.xlsx``, Office Open XML) of plain sheets, written directly.

:func:`coverage.outputs.files.write_workbook` decides what goes in (the run's tables,
neutralised); this module only writes the file.  The sheets are plain: a grid of text,
numbers, booleans and the odd date, no formula, link or style beyond the date formats.
openpyxl and XlsxWriter spend some 10 µs per cell in Python on objects this file has
no use for; here each cell is one formatted string, column by column, which writes the
demo's half-million cells with a sixth of openpyxl's CPU time.

The cells are written as XlsxWriter writes them in its constant-memory mode (inline
strings), and the other parts are its own, less the optional ones (document properties,
theme).  A text is always an inline string
(``t="inlineStr"``), escaped: no cell can be read as a formula or as markup.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import cast
from xml.sax.saxutils import quoteattr

__all__ = ["EXCEL_MAX_COLUMNS", "write_xlsx"]

#: Columns of an Excel sheet.
EXCEL_MAX_COLUMNS = 16_384
#: The longest text a cell holds (UTF-16 code units); longer texts are cut there, as XlsxWriter does.
_TEXT_MAX = 32_767

#: Characters XML 1.0 cannot hold (control characters, surrogates, U+FFFE/U+FFFF): replaced by U+FFFD.
_ILLEGAL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Excel reads ``_xHHHH_`` in a text as the character HHHH: such a literal text is escaped as ``_x005F_xHHHH_``.
_EXCEL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
#: What a text needs changed in XML: ``&``, ``<``, ``>`` and the carriage return (read as a line feed if raw).
_XML_SPECIAL = re.compile("[&<>\r]")
_XML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
#: What makes a text need any of the changes above; most texts need none.
_TEXT_WORK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff&<>\r]|_x")
_NUMBER_TYPES = frozenset({float, int, type(None)})
_TEXT_TYPES = frozenset({str, type(None)})

#: Style index (in ``styles.xml``) and number format of each kind of date or time, as openpyxl formats them.
_TIME_STYLES: dict[type, tuple[int, str]] = {
    datetime.datetime: (1, "yyyy-mm-dd h:mm:ss"),
    datetime.date: (2, "yyyy-mm-dd"),
    datetime.time: (3, "h:mm:ss"),
    datetime.timedelta: (4, "[hh]:mm:ss"),
}
_EPOCH = datetime.datetime(1899, 12, 30)
_SECONDS_PER_DAY = 86_400

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_OFFICE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_SHEET_TAIL = (
    '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
)
#: Deflate level of the parts: 3 compresses the demo's sheets 2.4 times faster than the usual 6, 11 % larger.
_ZIP_LEVEL = 3
#: Rows formatted at a time: the sheet's XML is written piece by piece, never whole in memory.
_ROWS_PER_PIECE = 4096


def _column_letters(index: int) -> str:
    """``A`` for 0, ``Z`` for 25, ``AA`` for 26..."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _space(text: str) -> str:
    """The attribute that keeps a text's leading or trailing white space, if it has any."""
    return ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""


def _text_xml(text: str) -> str:
    """The ``<is>`` element of an inline string: characters XML cannot hold replaced, the rest escaped."""
    text = _ILLEGAL_CHARACTERS.sub("\ufffd", text)
    if len(text) > _TEXT_MAX // 2 and len(text.encode("utf-16-le")) > 2 * _TEXT_MAX:
        text = text.encode("utf-16-le")[: 2 * _TEXT_MAX].decode("utf-16-le", errors="ignore")
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F\1", text)
    space = _space(text)
    if _XML_SPECIAL.search(text):
        text = _XML_SPECIAL.sub(lambda m: _XML_ENTITIES[m.group()], text)
    return f"<is><t{space}>{text}</t></is>"


def _excel_time(value: object) -> float:
    """A date, time or duration as Excel's serial number of days (1900 system, as openpyxl counts)."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds() / _SECONDS_PER_DAY
    if isinstance(value, datetime.time):
        if value.tzinfo is not None:
            raise TypeError("Excel does not support timezones: the time must have no tzinfo")
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / _SECONDS_PER_DAY
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())  # type: ignore[arg-type]
    if value.tzinfo is not None:
        raise TypeError("Excel does not support timezones: the datetime must have no tzinfo")
    delta = value - _EPOCH
    days = delta.days - 1 if 0 < delta.days <= 60 else delta.days  # Excel's 29 February 1900
    return days + (delta.seconds + delta.microseconds / 1e6) / _SECONDS_PER_DAY


def _cell_xml(letters: str, row: int, value: object) -> str:
    """The ``<c>`` element of one cell, ``""`` for an empty cell (``None`` or ``""``)."""
    kind = type(value)
    if value is None or value == "":
        return ""
    if kind is str:
        return _text_column_xml(letters, [cast(str, value)], row)[0]
    if kind is float or kind is int:
        return f'<c r="{letters}{row}"><v>{value:.16g}</v></c>'
    if kind is bool:
        return f'<c r="{letters}{row}" t="b"><v>{int(value)}</v></c>'  # type: ignore[call-overload]
    style = next((s for k, (s, _) in _TIME_STYLES.items() if isinstance(value, k)), None)
    if style is None:
        raise TypeError(f"cannot write {value!r} in a workbook cell")
    return f'<c r="{letters}{row}" s="{style}"><v>{_excel_time(value):.16g}</v></c>'


def _text_column_xml(letters: str, texts: Sequence[str | None], first_row: int) -> list[str]:
    """The ``<c>`` elements of texts (``None`` or ``""``: empty cells), from row ``first_row`` on.

    One search over all the texts tells whether any needs more than ``xml:space``
    (escaping, replaced characters, cutting); most columns need none.
    """
    present = [t for t in texts if t]
    if _TEXT_WORK.search("".join(present)) or any(len(t) > _TEXT_MAX // 2 for t in present):
        body = [_text_xml(t) if t else "" for t in texts]
    else:
        body = [f"<is><t{_space(t)}>{t}</t></is>" if t else "" for t in texts]
    return [f'<c r="{letters}{r}" t="inlineStr">{b}</c>' if b else "" for r, b in enumerate(body, first_row)]


def _column_xml(letters: str, cells: Sequence[object], first_row: int) -> list[str]:
    """The ``<c>`` element of each cell of a column from row ``first_row`` on, ``""`` for an empty cell.

    Numbers only or texts only (besides empty cells), the usual case, are formatted in one
    pass without looking at each cell's type.
    """
    kinds = set(map(type, cells))
    if kinds <= _NUMBER_TYPES:
        return [
            f'<c r="{letters}{r}"><v>{v:.16g}</v></c>' if v is not None else "" for r, v in enumerate(cells, first_row)
        ]
    if kinds <= _TEXT_TYPES:
        return _text_column_xml(letters, cast("Sequence[str | None]", cells), first_row)
    return [_cell_xml(letters, r, v) for r, v in enumerate(cells, first_row)]


def _sheet_xml(columns: Sequence[Sequence[object]], *, selected: bool) -> Iterator[str]:
    """A worksheet's XML in pieces of a few thousand rows: ``columns[j][i]`` is the cell of
    row ``i + 1``, column ``j + 1``; ``columns[j][0]``, the header, is row 1."""
    if len(columns) > EXCEL_MAX_COLUMNS:
        raise ValueError(f"{len(columns)} columns, more than an Excel sheet holds ({EXCEL_MAX_COLUMNS})")
    n_rows = max((len(c) for c in columns), default=0)
    if any(len(c) != n_rows for c in columns):
        raise ValueError("the columns of a sheet differ in length")
    letters = [_column_letters(j) for j in range(len(columns))]
    dimension = f"A1:{letters[-1]}{n_rows}" if n_rows else "A1"
    view = 'tabSelected="1" ' if selected else ""
    yield (
        f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><dimension ref="{dimension}"/>'
        f'<sheetViews><sheetView {view}workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        "<sheetData>"
    )
    # the header row apart, so that a column's body is all numbers or all texts
    for first in [0, *range(1, n_rows, _ROWS_PER_PIECE)]:
        last = 1 if first == 0 else first + _ROWS_PER_PIECE
        by_column = [_column_xml(letters[j], column[first:last], first + 1) for j, column in enumerate(columns)]
        rows = []
        for r, cells in enumerate(zip(*by_column, strict=True), first + 1):
            content = "".join(cells)
            if content:  # a row of empty cells is left out
                rows.append(f'<row r="{r}">{content}</row>')
        yield "".join(rows)
    yield _SHEET_TAIL


def _content_types(n_sheets: int) -> str:
    parts = [
        ("/xl/workbook.xml", f"{_OFFICE_TYPE}.sheet.main+xml"),
        ("/xl/styles.xml", f"{_OFFICE_TYPE}.styles+xml"),
        *((f"/xl/worksheets/sheet{i}.xml", f"{_OFFICE_TYPE}.worksheet+xml") for i in range(1, n_sheets + 1)),
    ]
    overrides = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in parts)
    return (
        f'{_XML_HEAD}<Types xmlns="{_CONTENT_NS}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>'
    )


def _package_rels() -> str:
    return (
        f'{_XML_HEAD}<Relationships xmlns="{_PACKAGE_REL_NS}"><Relationship Id="rId1" '
        f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )


def _workbook_xml(titles: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name={quoteattr(_ILLEGAL_CHARACTERS.sub("_", title))} sheetId="{i}" r:id="rId{i}"/>'
        for i, title in enumerate(titles, start=1)
    )
    return (
        f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews><workbookView/></bookViews>'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def _workbook_rels(n_sheets: int) -> str:
    sheets = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n_sheets + 1)
    )
    styles = f'<Relationship Id="rId{n_sheets + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    return f'{_XML_HEAD}<Relationships xmlns="{_PACKAGE_REL_NS}">{sheets}{styles}</Relationships>'


def _styles_xml() -> str:
    formats = sorted(_TIME_STYLES.values())
    num_fmts = "".join(f'<numFmt numFmtId="{163 + s}" formatCode={quoteattr(code)}/>' for s, code in formats)
    xfs = "".join(
        f'<xf numFmtId="{163 + s}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        for s, _ in formats
    )
    return (
        f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}"><numFmts count="{len(formats)}">{num_fmts}</numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(formats) + 1}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>{xfs}'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def write_xlsx(path: Path, sheets: Iterable[tuple[str, Sequence[Sequence[object]]]]) -> None:
    """Write ``sheets`` (title, columns) as an Excel workbook at ``path``, in the order given.

    A column is a sequence of cells, its header first: ``str`` (a text, never a formula),
    ``int``/``float`` (finite), ``bool``, a :mod:`datetime` date, time or duration, or
    ``None`` (an empty cell).  Titles must already be valid and unique sheet names.  A
    workbook needs one sheet: give at least one.
    """
    titles: list[str] = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_ZIP_LEVEL) as archive:
        for title, columns in sheets:
            titles.append(title)
            with archive.open(f"xl/worksheets/sheet{len(titles)}.xml", "w") as part:
                for piece in _sheet_xml(columns, selected=len(titles) == 1):
                    part.write(piece.encode("utf-8"))
        if not titles:
            raise ValueError("a workbook needs at least one sheet")
        archive.writestr("[Content_Types].xml", _content_types(len(titles)))
        archive.writestr("_rels/.rels", _package_rels())
        archive.writestr("xl/workbook.xml", _workbook_xml(titles))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(titles)))
        archive.writestr("xl/styles.xml", _styles_xml())
