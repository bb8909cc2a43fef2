"""Vendored Leaflet assets for maps that work without a network.

Copied unchanged from the npm packages ``leaflet@1.9.3`` (``dist/leaflet.js``,
``dist/leaflet.css``, ``dist/images/*.png``; BSD-2-Clause, ``LICENSE.leaflet``) and
``leaflet.fullscreen@3.0.0`` (``Control.FullScreen.js``, ``Control.FullScreen.css``,
``icon-fullscreen.svg``; MIT, ``LICENSE.leaflet.fullscreen``): the versions Folium 0.20
links to.  :func:`data_uri` turns one of them into a ``data:`` URI, with the images a
stylesheet refers to inlined as well, so that a page can carry them in a single file.
"""

from __future__ import annotations

import base64
import re
from importlib import resources

__all__ = ["ASSET_VERSIONS", "asset_bytes", "data_uri"]

#: npm package and version of each vendored asset family.
ASSET_VERSIONS = {"leaflet": "1.9.3", "leaflet.fullscreen": "3.0.0"}

_MIME = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}
# url(images/layers.png) in leaflet.css, url(icon-fullscreen.svg) in Control.FullScreen.css;
# url(#default#VML) (old Internet Explorer) does not match and is left alone.
_CSS_URL = re.compile(r"url\((['\"]?)(?:images/)?([\w.-]+\.(?:png|svg))\1\)")


def asset_bytes(name: str) -> bytes:
    """Content of a vendored file, e.g. ``"leaflet.js"``."""
    return resources.files(__name__).joinpath(name).read_bytes()


def _mime(name: str) -> str:
    return _MIME[name[name.rfind(".") :]]


def data_uri(name: str) -> str:
    """``data:`` URI of a vendored file; a stylesheet's images are inlined in it."""
    content = asset_bytes(name)
    if name.endswith(".css"):
        text = _CSS_URL.sub(lambda m: f'url("{data_uri(m.group(2))}")', content.decode("utf-8"))
        content = text.encode("utf-8")
    return f"data:{_mime(name)};base64,{base64.b64encode(content).decode('ascii')}"
