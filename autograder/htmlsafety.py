"""Student-written HTML is shown to the instructor, never run (issue 12).

The formgrader and the feedback pages render a student's notebook with
nbconvert's HTMLExporter; the formgrader serves it from the Jupyter server's
own origin, where a script could call the server's API with the instructor's
cookies. nbconvert's ``HTMLExporter.sanitize_html`` is not enough: nbgrader's
templates print markdown cells without it, nbconvert's markdown renderer
keeps ``[links](javascript:...)``, and its fixed allow-list escapes the
``<p>``, ``<th>`` and ``<img>`` of honest outputs. So `layout.Workspace`
hooks the two places where student HTML enters a page:

* the ``markdown2html`` filter, which every template renders markdown with
  (markdown cells, ``text/markdown`` outputs): `markdown2html` renders as
  nbconvert does, then `clean`s the result;
* the `SanitizeOutputs` preprocessor: ``text/html`` outputs are `clean`ed,
  every other output type a browser could run (``application/javascript``,
  SVG, widget views...) is dropped, and so is the notebook's widget state.
"""
from __future__ import annotations

import bleach
from bleach.css_sanitizer import CSSSanitizer
from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import default

# What markdown and the usual outputs (pandas tables, IPython.display) are made of: nothing that runs.
TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
# No ``id``: a student's element must not take the id of the formgrader's score inputs.
ATTRIBUTES = {
    "*": ["class", "title"], "a": ["href"], "img": ["src", "alt", "width", "height"], "ol": ["start"],
    "table": ["border"], "th": ["align", "colspan", "rowspan", "style"],
    "td": ["align", "colspan", "rowspan", "style"], "tr": ["style"],
}
# ``data:`` for pasted images (markdown attachments); a browser never runs a data: URL in the page's origin.
PROTOCOLS = frozenset({"http", "https", "mailto", "data"})
_CSS = CSSSanitizer()


def clean(html: str) -> str:
    """``html`` keeping only the tags, attributes and URL schemes above; other tags are shown as text."""
    return bleach.clean(html, tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS, css_sanitizer=_CSS)


@pass_context
def markdown2html(context, source: str) -> str:
    """nbconvert's markdown rendering, with the cell's attachments, then `clean`.

    Heading anchors are left out: their target ids are removed by `clean`.
    """
    attachments = context.get("cell", {}).get("attachments", {})
    renderer = IPythonRenderer(escape=False, attachments=attachments, exclude_anchor_links=True)
    return clean(MarkdownWithMath(renderer=renderer).render(source))


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's SanitizeHTML with `clean`, except for markdown cells and plus the widget state.

    Markdown (cells and ``text/markdown`` outputs) is left to `markdown2html`:
    bleaching markdown *source* mangles honest code spans and quotes
    (``a < b``, ``> note``), and misses links written in markdown syntax.
    """

    @default("safe_output_keys")
    def _safe_output_keys_default(self):
        return {"metadata", "text/plain", "text/latex", "application/json", "image/png", "image/jpeg",
                "text/markdown"}

    @default("sanitized_output_types")
    def _sanitized_output_types_default(self):
        return {"text/html"}

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)  # ipywidgets' saved state: widget JavaScript would render its HTML
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)

    def sanitize_html_tags(self, html_str):
        return clean(html_str)
