"""Student HTML never runs in the instructor's browser: feedback pages and the formgrader (issue 12).

A hostile submission (`autograder.samples.xss`) is graded through the real
pipeline; its feedback page and the formgrader's view of it are opened in
headless Chromium, where any payload that ran would leave a mark: the page's
title, a ``.pwned`` node, or a file written through the Jupyter server's API.
The first tests check the same on the HTML string, with no browser, through
each template that shows a submission.
"""
from __future__ import annotations

import copy
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbgrader.api import Gradebook
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder import api
from autograder.htmlsafety import clean, markdown2html
from autograder.layout import COURSE_ID, Workspace
from autograder.samples import SAMPLE_ID
from autograder.samples.xss import HONEST_ANSWER, MARKER, vector_names, xss_submission

from conftest import jupyterlab

STUDENT = "mallory"
NBGRADER_TEMPLATES = Path(__import__("nbgrader").__file__).parent / "server_extensions" / "formgrader" / "templates"
TEACHING_MESSAGE = "flipped the kernel"  # what test_slide tells this student
# Shown as <img src="data:...">, where a browser never runs script, and widget state, which
# nbgrader's templates never print: harmless even unsanitised.
INERT = {"answer-attachment-svg", "note-attachment-svg", "svg-output", "widget-state"}


class _LiveScript(HTMLParser):
    """Collects what a browser would run: script bodies, ``on*`` and ``srcdoc`` attributes, javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.code: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = self._in_script or tag == "script"
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name == "srcdoc" or value.strip().lower().startswith("javascript:"):
                self.code.append(value)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.code.append(data)


def live_vectors(page: str) -> set[str]:
    """The vectors whose payload sits where a browser would run it."""
    parser = _LiveScript()
    parser.feed(page)
    return set(re.findall(rf"{MARKER}-([\w-]+)\.txt", "\n".join(parser.code)))


def source_notebook(ws: Workspace):
    return nbformat.read(ws.sync_source(SAMPLE_ID) / "numpy_part.ipynb", as_version=4)


def render(nb, template: str, config: Config) -> str:
    """``nb`` as the formgrader (template ``formgrade``), feedback or nbconvert's ``lab`` shows it."""
    c = copy.deepcopy(config)
    c.HTMLExporter.template_name = template
    c.HTMLExporter.extra_template_basedirs = [str(NBGRADER_TEMPLATES)]
    c.HTMLExporter.extra_template_paths = [str(NBGRADER_TEMPLATES.parent / "static/node_modules/bootstrap/dist/css")]
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:  # what nbgrader's GetGrades adds for the feedback template
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader.score = 0
    resources = {"nbgrader": {"notebook": "numpy_part", "score": 0, "max_score": 6, "late_penalty": 0},
                 "index": 0, "total": 1, "notebook_id": "numpy_part", "base_url": ""}
    return HTMLExporter(config=c).from_notebook_node(nb, resources=resources)[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return Workspace.create(tmp_path_factory.mktemp("html-safety") / "work")


@pytest.fixture(scope="module")
def hostile(workspace):
    """The hostile student's notebook, outputs saved in it."""
    return xss_submission(source_notebook(workspace))


@pytest.mark.parametrize("config_from", ["nbgrader_config()", "nbgrader_config.py"])
@pytest.mark.parametrize("template", ["formgrade", "feedback", "lab"])
def test_the_sanitiser_leaves_no_vector_live(workspace, hostile, template, config_from):
    unsanitised = live_vectors(render(hostile, template, Config()))
    assert set(vector_names()) - INERT <= unsanitised, "the hostile notebook lost a vector: the test proves less"
    if config_from == "nbgrader_config()":
        config = workspace.nbgrader_config()
    else:  # what the formgrader reads
        config = PyFileConfigLoader(workspace.write_nbgrader_config_file().name,
                                    path=str(workspace.course_root)).load_config()
    page = render(hostile, template, config)
    assert live_vectors(page) == set()
    assert HONEST_ANSWER in page


def test_honest_markdown_and_tables_keep_their_look():
    import pandas as pd

    page = markdown2html({}, "> a quote\n\n`a < b` and **bold** and $x < y$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                             "![plot](data:image/png;base64,iVBORw0KGgo=)")
    for kept in ("<blockquote>", "<code>a &lt; b</code>", "<strong>bold</strong>", "$x &lt; y$", "<th>a</th>",
                 '<img src="data:image/png;base64,iVBORw0KGgo=" alt="plot">'):
        assert kept in page
    table = clean(pd.DataFrame({"loss": [0.5]}).to_html())
    assert '<table border="1" class="dataframe">' in table and "<th>loss</th>" in table


# -- in a real browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(workspace, hostile, tmp_path_factory):
    """The hostile submission released, graded and given feedback, through the real pipeline."""
    api.release(SAMPLE_ID, workspace.workdir)
    submissions = tmp_path_factory.mktemp("submissions")
    target = submissions / STUDENT / SAMPLE_ID
    target.mkdir(parents=True)
    nbformat.write(hostile, target / "numpy_part.ipynb")
    started = time.monotonic()
    [result] = api.grade_submissions(SAMPLE_ID, submissions, workspace.workdir, workers=1, cell_timeout=60,
                                     progress=False)
    assert result.status == "graded", result.reason
    assert result.tests["test_relu"] == (1.0, 1.0) and result.tests["test_slide"] == (0.0, 2.0)
    [page] = api.feedback(SAMPLE_ID, workspace.workdir)[STUDENT]
    print(f"\n[html safety] graded and feedback in {time.monotonic() - started:.0f} s")
    return page


def traces(browser) -> list[str]:
    """What a payload that ran leaves in the page: ``.pwned`` nodes, a PWNED title, an alert."""
    from selenium.common.exceptions import UnexpectedAlertPresentException

    try:
        browser.execute_script("document.querySelectorAll('a[href^=\"javascript:\" i]').forEach(a => a.click())")
        time.sleep(2)  # for iframes, image errors and fetches
        marks = browser.execute_script("return [...document.querySelectorAll('.pwned')].map(p => p.textContent)")
        return marks + ([browser.title] if browser.title.startswith(MARKER) else [])
    except UnexpectedAlertPresentException as alert:
        return [f"alert: {alert.alert_text}"]


@pytest.mark.slow
def test_feedback_page_runs_no_student_script(graded, browser):
    browser.get(graded.as_uri())
    assert traces(browser) == []
    text = browser.find_element("tag name", "body").text
    assert HONEST_ANSWER in text and TEACHING_MESSAGE in text


@pytest.fixture(scope="module")
def formgrader(workspace, graded, tmp_path_factory):
    """JupyterLab with nbgrader's formgrader on the graded course folder; yields (url, token)."""
    with jupyterlab(workspace.course_root, tmp_path_factory.mktemp("runtime")) as server:
        yield server


@pytest.mark.slow
def test_formgrader_submission_view_runs_no_student_script(workspace, formgrader, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = formgrader
    with Gradebook(workspace.db_url, COURSE_ID) as gb:
        notebook_id = gb.find_submission_notebook("numpy_part", SAMPLE_ID, STUDENT).id
    browser.get(f"{url}/formgrader?token={token}")  # logs in: the session cookie and _xsrf are set
    browser.get(f"{url}/formgrader/submissions/{notebook_id}/")
    # The formgrader's own script still works: it fills each test's score from the gradebook.
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(
        "return document.querySelector('input#test_relu').placeholder"))
    assert browser.find_element("css selector", "input#test_relu").get_attribute("placeholder") == "1"
    assert traces(browser) == []
    assert not list(workspace.course_root.rglob(f"{MARKER}-*")), "a payload wrote through the server's API"
    text = browser.find_element("tag name", "body").text
    assert HONEST_ANSWER in text and TEACHING_MESSAGE in text
