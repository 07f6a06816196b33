"""A submission whose HTML tries to run script in the instructor's browser (issue 12).

`xss_submission` turns the sample's source ``numpy_part.ipynb`` into a
student's notebook carrying every vector `vector_names` lists: in its
written answer ``written_relu`` (which the formgrader shows for manual
grading), in a note of its own, in the outputs its ``relu`` cell displays
(``text/html``, ``image/svg+xml``, ``application/javascript``,
``text/markdown``, a widget view), and in ipywidgets' saved state. The outputs are saved in the notebook
*and* displayed again by the cell's code, since grading clears and re-runs.

Each vector carries `payload`, which, if it ever ran, leaves three traces:
``document.title`` becomes ``PWNED <vector>``, a ``<p class="pwned">`` naming
the vector joins the page, and a PUT through the Jupyter contents API, with
the page's XSRF cookie, writes ``PWNED-<vector>.txt`` into the server's root.

The answer stays honest otherwise: ``relu`` is right, ``slide`` flips the
kernel (so feedback shows that test's teaching message), and the written
answer starts with `HONEST_ANSWER`.
"""
from __future__ import annotations

import base64
import html

import nbformat

from autograder.samples import replace_cells

HONEST_ANSWER = "The derivative of ReLU is exactly 1 for positive inputs, so gradients pass unshrunk."
FLIPPED_SLIDE = "def slide(x, w):\n    return np.convolve(x, w, mode='valid')"
MARKER = "PWNED"


def payload(vector: str, window: str = "window") -> str:
    """JavaScript that marks the page (of ``window``) and writes a file through the server's API.

    No ``"``, ``<`` or newline, so it fits in an attribute and an XML document alike.
    """
    return (
        f"(function(w){{var d=w.document;d.title='{MARKER} {vector}';"
        "var p=d.createElement('p');p.className='pwned';"
        f"p.textContent='{vector}';d.body.appendChild(p);"
        "var x=(d.cookie.match(/_xsrf=([^;]*)/)||[])[1]||'';"
        f"w.fetch('/api/contents/{MARKER}-{vector}.txt',{{method:'PUT',"
        "headers:{'X-XSRFToken':x,'Content-Type':'application/json'},"
        "body:JSON.stringify({type:'file',format:'text',content:'pwned'})})})"
        f"({window})"
    )


def _attr(js: str) -> str:
    return html.escape(js, quote=True)


def html_vectors(where: str) -> dict[str, str]:
    """Vector name -> raw HTML, for one place (``where``) of the notebook."""
    v = lambda name: f"{where}-{name}"  # noqa: E731
    return {
        v("script"): f"<script>{payload(v('script'))}</script>",
        v("img-onerror"): f'<img src="x" onerror="{_attr(payload(v("img-onerror")))}">',
        v("svg-onload"): f'<svg onload="{_attr(payload(v("svg-onload")))}"><circle r="1"></circle></svg>',
        v("svg-script"): f"<svg><script>{payload(v('svg-script'))}</script></svg>",
        v("iframe-srcdoc"): '<iframe srcdoc="'
                            + _attr(f"<script>{payload(v('iframe-srcdoc'), 'parent')}</script>") + '"></iframe>',
        v("iframe-javascript"): f'<iframe src="javascript:{_attr(payload(v("iframe-javascript"), "parent"))}">'
                                "</iframe>",
        v("details-ontoggle"): f'<details open ontoggle="{_attr(payload(v("details-ontoggle")))}">'
                               "<summary>details</summary></details>",
        v("link-html"): f'<a href="javascript:{_attr(payload(v("link-html")))}">my derivation</a>',
    }


def markdown_vectors(where: str) -> dict[str, str]:
    """`html_vectors` written into markdown, plus a link in markdown syntax.

    The link's code is base64 (no space nor bracket to stop the link), named in a comment for the tests.
    """
    link = f"{where}-link-markdown"
    code = base64.b64encode(payload(link).encode()).decode()
    return {**html_vectors(where), link: f"[see my plot](javascript:/*{MARKER}-{link}.txt*/eval(atob('{code}')))"}


def _markdown_cell_vectors(where: str) -> dict[str, str]:
    """`markdown_vectors` plus an image attached to the cell: an SVG with script (see `_attachments`)."""
    return {**markdown_vectors(where), f"{where}-attachment-svg": "![diagram](attachment:diagram.svg)"}


def _svg(vector: str) -> str:
    """An SVG document whose script and onload would both run the payload."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="{_attr(payload(vector))}">'
            f"<script>{payload(vector)}</script></svg>")


def _attachments(where: str) -> dict:
    """The SVG (with script) that ``_markdown_cell_vectors(where)`` shows as ``attachment:diagram.svg``."""
    return {"diagram.svg": {"image/svg+xml": base64.b64encode(_svg(f"{where}-attachment-svg").encode()).decode()}}


def _widget_state(vector: str) -> dict:
    """ipywidgets' saved state: an HTML widget whose value the widget JavaScript would insert in the page."""
    return {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
        "pwned-model": {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                        "model_module_version": "2.0.0",
                        "state": {"value": f'<img src="x" onerror="{_attr(payload(vector))}">'}}}}}


def _outputs() -> list[dict]:
    """What the ``relu`` cell displays: every output vector, as mime bundles."""
    return [
        {"text/html": "\n".join(html_vectors("html-output").values()), "text/plain": "<HTML>"},
        {"image/svg+xml": _svg("svg-output"), "text/plain": "<SVG>"},
        {"application/javascript": payload("javascript-output"), "text/plain": "<JS>"},
        {"text/markdown": "\n\n".join(markdown_vectors("markdown-output").values()), "text/plain": "<MD>"},
        {"application/vnd.jupyter.widget-view+json": {"model_id": "pwned-model", "version_major": 2,
                                                      "version_minor": 0}, "text/plain": "<widget>"},
    ]


def vector_names() -> list[str]:
    """Every vector `xss_submission` carries (what the tests check, one by one)."""
    outputs = [*html_vectors("html-output"), "svg-output", "javascript-output", *markdown_vectors("markdown-output")]
    return [*_markdown_cell_vectors("answer"), *_markdown_cell_vectors("note"), *outputs, "widget-state"]


def xss_submission(source_nb):
    """The hostile student's ``numpy_part.ipynb``, from the source notebook (solutions in place)."""
    display = "\n".join(f"display({bundle!r}, raw=True)" for bundle in _outputs())
    nb = replace_cells(source_nb, {
        "relu": "def relu(x):\n    return np.maximum(x, 0.0)\n\n\nfrom IPython.display import display\n" + display,
        "slide": FLIPPED_SLIDE,
        "written_relu": HONEST_ANSWER + "\n\n" + "\n\n".join(_markdown_cell_vectors("answer").values()),
    })
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(nb.cells)}
    nb.cells[index["written_relu"]].attachments = _attachments("answer")
    nb.cells[index["relu"]].outputs = [nbformat.v4.new_output("display_data", data=b) for b in _outputs()]
    note = nbformat.v4.new_markdown_cell("\n\n".join(_markdown_cell_vectors("note").values()),
                                         attachments=_attachments("note"))
    nb.cells.insert(index["relu"], note)
    nb.metadata.widgets = _widget_state("widget-state")
    return nb
