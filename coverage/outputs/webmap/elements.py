"""The Folium classes of the web map: the map itself, and elements whose output is never a template.

Folium and branca build a page in two passes: each element's Jinja macros are rendered,
and branca then compiles every piece of their output *again* as a Jinja template
(``Element(script(this, kwargs))``) before writing it.  Text that reaches an element's
output is therefore read as template code, so a name such as ``{{ 7*7 }}`` would show
as ``49``, ``{%`` would stop the run, and a crafted one could run Python.  Two
defences, used together:

- :class:`DataElement` (every element this package writes itself) puts its rendered
  macros on the page as :class:`Verbatim` text, read as a template by nobody;
- the text of input files handed to Folium's own elements (layer names, GeoJSON
  properties and tooltips) is HTML in which ``{`` is written ``&#123;``
  (:func:`~coverage.outputs.webmap.page.inert`): the browser shows ``{``, Jinja sees no
  delimiter.

:class:`CoverageMap` is the :class:`folium.Map` that :func:`~coverage.outputs.webmap.gap_map`
returns.  It does two things when it is rendered (saved, or shown in a notebook), so that
whatever was added to it before then works as on any Folium map:

- its layer control goes on the page after every layer, the ones added to the map after
  :func:`~coverage.outputs.webmap.gap_map` included; a :class:`folium.LayerControl` added
  by the user takes its place;
- with ``offline``, the page carries Leaflet and the fullscreen plugin as ``data:`` URIs
  (:mod:`coverage.outputs.webmap.assets`) and links none of Folium's other CDN files,
  unless an element that needs them was added (``folium.Popup``, ``folium.Icon``,
  ``keep_in_front``: jQuery, Bootstrap and awesome-markers then come from their CDN, as
  do the files of Folium plugins).  Leaflet's default marker icon is inlined too.

This module imports Folium; the rest of :mod:`coverage.outputs.webmap` imports it only
when a map is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import ElementAddToElement, JSCSSMixin
from folium.template import Template

from coverage.outputs.webmap.assets import data_uri

__all__ = ["CoverageMap", "DataElement", "GeoJsonLayer", "Verbatim", "offline_links"]

# The files of Folium and of its fullscreen plugin that are vendored, by Folium's link name.
_VENDORED = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "Control.Fullscreen.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
}

# Leaflet finds its default marker icon next to leaflet.css, which a data: URI has not:
# the images are given as data: URIs instead.
_DEFAULT_ICON_NAME = "coverage_default_icon"
_DEFAULT_ICON = """
{% macro header(this, kwargs) %}
<script>
L.Icon.Default.mergeOptions({{ this.urls|tojson }});
L.Icon.Default.imagePath = "";
</script>
{% endmacro %}
"""


class Verbatim(Element):
    """Text put on the page as it is: never compiled or rendered as a template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The text, unchanged."""
        return self.text


class DataElement(MacroElement):
    """A branca element drawn by the Jinja macros of ``template``, whose output is page text.

    Like :class:`branca.element.MacroElement`, the ``header``, ``html`` and ``script``
    macros of the template go to the matching parts of the page, rendered with the
    element as ``this`` (``attributes`` are set on it); their output is then put there
    as :class:`Verbatim` text, instead of being compiled again as a template.
    """

    def __init__(self, template: Template, name: str = "DataElement", **attributes: Any) -> None:
        super().__init__()
        self._name = name
        self._template = template
        for key, value in attributes.items():
            setattr(self, key, value)

    # like branca's MacroElement.render, this puts the element on the page and returns nothing
    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Put the rendered macros on the page, then render the children."""
        _render_verbatim(self, self._template, kwargs)


def _render_verbatim(element: MacroElement, template: Template, kwargs: dict[str, Any]) -> None:
    """Put the macros of ``template`` rendered for ``element`` on the page as text, then its children."""
    figure = element.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("a map element can only be rendered in a Figure")
    module = template.module
    for part in ("header", "html", "script"):
        macro = getattr(module, part, None)
        if macro is not None:
            getattr(figure, part).add_child(Verbatim(macro(element, kwargs)), name=element.get_name())
    for child in element._children.values():
        child.render(**kwargs)


# What folium.GeoJson writes for a layer with a style, a highlight and a GeoJsonTooltip
# (labels, no localisation), with the style looked up in a list by a property of the
# feature instead of a switch on every feature's id.
_GEOJSON = Template("""
{% macro header(this, kwargs) %}{% if this.tooltip_fields %}
<style>
    .foliumtooltip table { margin: auto; }
    .foliumtooltip tr { text-align: left; }
    .foliumtooltip th { padding: 2px; padding-right: 8px; }
</style>
{% endif %}{% endmacro %}
{% macro script(this, kwargs) %}
{%- set name = this.get_name() %}
var {{ name }}_styles = {{ this.styles|tojson }};
function {{ name }}_styler(feature) {
    {%- if this.style_property %}
    return {{ name }}_styles[feature.properties[{{ this.style_property|tojson }}]];
    {%- else %}
    return {{ name }}_styles[0];
    {%- endif %}
}
{%- if this.highlight %}
function {{ name }}_highlighter(feature) {
    return {{ this.highlight|tojson }};
}
{%- endif %}
function {{ name }}_onEachFeature(feature, layer) {
    layer.on({
        {%- if this.highlight %}
        mouseout: function(e) {
            if (typeof e.target.setStyle === "function") { {{ name }}.resetStyle(e.target); }
        },
        mouseover: function(e) {
            if (typeof e.target.setStyle === "function") {
                e.target.setStyle({{ name }}_highlighter(e.target.feature));
            }
        },
        {%- endif %}
    });
}
var {{ name }} = L.geoJson(null, {
    onEachFeature: {{ name }}_onEachFeature,
    style: {{ name }}_styler,
    ...{{ this.options|tojson }}
});
function {{ name }}_add(data) {
    {{ name }}.addData(data);
}
{{ name }}_add({{ this.data }});
{%- if this.tooltip_fields %}
{{ name }}.bindTooltip(function (layer) {
    let div = L.DomUtil.create("div");
    let handleObject = feature => {
        if (feature === null) {
            return "";
        } else if (typeof(feature) == "object") {
            return JSON.stringify(feature);
        } else {
            return feature;
        }
    };
    let fields = {{ this.tooltip_fields|tojson }};
    let aliases = {{ this.tooltip_aliases|tojson }};
    let table = "<table>" + String(fields.map(
        (v, i) => `<tr><th>${aliases[i]}</th><td>${handleObject(layer.feature.properties[v])}</td></tr>`
    ).join("")) + "</table>";
    div.innerHTML = table;
    return div;
}, {{ this.tooltip_options|tojson }});
{%- endif %}
{% endmacro %}
""")


class GeoJsonLayer(folium.map.Layer):
    """A layer of GeoJSON features given as text, drawn as :class:`folium.GeoJson` draws them.

    ``data`` is the HTML-safe JSON of a FeatureCollection
    (:func:`~coverage.outputs.webmap.features.feature_collection`): it goes on the page
    as it is, neither parsed nor written again, and with the rest of the layer's script
    it is never read as a template (:class:`DataElement`).  Each feature's style is
    ``styles[feature.properties[style_property]]``, or ``styles[0]`` without a
    ``style_property``; ``highlight`` is the style under the mouse; the tooltip shows
    ``tooltip_fields`` (properties, HTML text) under ``tooltip_aliases`` (HTML text),
    as :class:`folium.GeoJsonTooltip` does.
    """

    def __init__(
        self,
        data: str,
        *,
        name: str,
        show: bool = True,
        styles: list[dict[str, Any]],
        style_property: str | None = None,
        highlight: dict[str, Any] | None = None,
        tooltip_fields: list[str] | None = None,
        tooltip_aliases: list[str] | None = None,
        pane: str | None = None,
        interactive: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJson"
        self.data = data
        self.styles = styles
        self.style_property = style_property
        self.highlight = highlight
        self.tooltip_fields = list(tooltip_fields or [])
        self.tooltip_aliases = list(tooltip_aliases or self.tooltip_fields)
        if len(self.tooltip_aliases) != len(self.tooltip_fields):
            raise ValueError("tooltip_fields and tooltip_aliases must have the same length")
        self.tooltip_options = {"sticky": True, "className": "foliumtooltip"}
        self.options = {k: v for k, v in (("pane", pane), ("interactive", interactive)) if v is not None}

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Put the layer's script on the page (added to the map if ``show``), as text."""
        if self.show and self._parent is not None:
            self.add_child(
                ElementAddToElement(element_name=self.get_name(), element_parent_name=self._parent.get_name()),
                name=self.get_name() + "_add",
            )
        _render_verbatim(self, _GEOJSON, kwargs)


def _descendants(parent: Element) -> Iterator[Element]:
    for child in parent._children.values():
        yield child
        yield from _descendants(child)


def offline_links(
    element: JSCSSMixin, links: list[tuple[str, str]], *, keep_folium_extras: bool
) -> list[tuple[str, str]]:
    """``links`` (Folium's ``(name, url)``) of ``element`` for a page that works without a network.

    The vendored files become ``data:`` URIs; the map's own other files (jQuery,
    Bootstrap, Font Awesome, awesome-markers) are dropped unless ``keep_folium_extras``;
    the files of any other element (a Folium plugin) are left as they are.
    """
    out = []
    for name, url in links:
        if name in _VENDORED:
            out.append((name, data_uri(_VENDORED[name])))
        elif not isinstance(element, folium.Map) or keep_folium_extras:
            out.append((name, url))
    return out


class CoverageMap(folium.Map):
    """The :class:`folium.Map` of :func:`~coverage.outputs.webmap.gap_map`: more layers may be added.

    ``layer_control`` is put on the page when the map is rendered, after every layer,
    unless a :class:`folium.LayerControl` was added to the map, which then replaces it.
    With ``offline``, the page is rendered with the vendored Leaflet and fullscreen
    plugin inlined (see :func:`offline_links`).
    """

    def __init__(self, *, offline: bool, layer_control: folium.LayerControl | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offline = offline
        self.layer_control = layer_control

    def _place_layer_control(self) -> list[folium.LayerControl]:
        """Put the layer controls last among the children; returns them."""
        own = self.layer_control
        if own is not None:
            self._children.pop(own.get_name(), None)
        controls = [c for c in self._children.values() if isinstance(c, folium.LayerControl)]
        if own is not None and not controls:
            self.add_child(own, name=own.get_name())
            controls = [own]
        for control in controls:
            self._children.move_to_end(control.get_name())
        return controls

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Render the map, its layers, then its layer control; inline the assets when offline."""
        figure = self.get_root()
        controls = self._place_layer_control()
        if isinstance(figure, Figure):
            # a second rendering must not leave a control's script before a layer added since
            for control in controls:
                for part in (figure.header, figure.html, figure.script):
                    part._children.pop(control.get_name(), None)
        if not self.offline:
            super().render(**kwargs)
            return
        if _DEFAULT_ICON_NAME not in self._children:
            urls = {
                "iconUrl": data_uri("marker-icon.png"),
                "iconRetinaUrl": data_uri("marker-icon-2x.png"),
                "shadowUrl": data_uri("marker-shadow.png"),
            }
            self.add_child(DataElement(Template(_DEFAULT_ICON), "DefaultIcon", urls=urls), name=_DEFAULT_ICON_NAME)
        elements = [self, *_descendants(self)]
        extras = bool(self.objects_to_stay_in_front) or any(isinstance(e, folium.Popup | folium.Icon) for e in elements)
        saved = []
        for element in elements:
            if isinstance(element, JSCSSMixin):
                saved.append((element, element.__dict__.get("default_js"), element.__dict__.get("default_css")))
                element.default_js = offline_links(element, element.default_js, keep_folium_extras=extras)
                element.default_css = offline_links(element, element.default_css, keep_folium_extras=extras)
        try:
            super().render(**kwargs)
        finally:
            # the lists Folium or the user set are left as they were, for the next rendering
            for element, js, css in saved:
                for attribute, value in (("default_js", js), ("default_css", css)):
                    if value is None:
                        element.__dict__.pop(attribute, None)
                    else:
                        setattr(element, attribute, value)
