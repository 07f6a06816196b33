"""What a student sees in JupyterLab, in a real browser (issue 14, items 1-4).

A notebook opened in JupyterLab (headless Chromium) starts the course's kernel
without asking; its first cell (an assignment's real setup cell) shows no log
line; a test against a blank stub says which function to write; a failed check
leads with what was checked, with no traceback through the test's internals;
an error in the student's own code still shows the student's line.
"""
from __future__ import annotations

import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import jupyterlab
from course.runtime import KERNEL_SPEC

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent
SETUP = next(c.source for c in nbformat.read(REPO / "assignments" / "01_convolution" / "convolution.ipynb",
                                             as_version=4).cells if c.cell_type == "code")
RAISES = {"tags": ["raises-exception"]}  # JupyterLab's "run all" goes on past these cells
CELLS = [
    (SETUP, {}),
    ("def conv_forward_naive(x, w, b, stride, pad):\n    # YOUR CODE HERE\n    raise NotImplementedError()", {}),
    ("expect_close(conv_forward_naive(np.ones((1, 3, 3, 1)), np.ones((1, 1, 1, 1)), np.zeros(1), 1, 0),\n"
     "             np.ones((1, 3, 3, 1)), 'a 1x1 filter of ones')", RAISES),
    ("expect_close([1.0, 2.5], [1.0, 2.0], 'two numbers', hint='add them')", RAISES),
    ("def mine(x):\n    return [0][x]\n\nmine(3)", RAISES),
]

# Each code cell's outputs as JupyterLab shows them: (mime type, rendered text).
OUTPUTS = """
const notebook = window.jupyterapp.shell.currentWidget.content;
return notebook.widgets.map(cell => [...cell.node.querySelectorAll('.jp-OutputArea-output')].map(
    out => [out.getAttribute('data-mime-type'), out.innerText]));
"""
DONE = """
const panel = window.jupyterapp.shell.currentWidget;
const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
return !!kernel && kernel.status === 'idle'
    && panel.content.widgets.every(cell => cell.model.executionCount !== null);
"""


@pytest.fixture(scope="module")
def student_view(tmp_path_factory, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    folder = tmp_path_factory.mktemp("student")
    nb = new_notebook(cells=[new_code_cell(source, metadata=meta) for source, meta in CELLS])
    nb.metadata["kernelspec"] = dict(KERNEL_SPEC)
    nbformat.write(nb, folder / "assignment.ipynb")
    with jupyterlab(folder, tmp_path_factory.mktemp("runtime"), "--LabApp.expose_app_in_browser=True") as (url, token):
        browser.get(f"{url}/lab/tree/assignment.ipynb?token={token}")
        WebDriverWait(browser, 120).until(lambda b: b.execute_script(
            "const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            "return !!w && !!w.sessionContext && w.sessionContext.isReady"))
        kernel = browser.execute_script("return window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayName")
        dialogs = browser.execute_script("return document.querySelectorAll('.jp-Dialog').length")
        browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        time.sleep(1)
        WebDriverWait(browser, 300).until(lambda b: b.execute_script(DONE))
        yield kernel, dialogs, browser.execute_script(OUTPUTS)


@pytest.mark.slow
def test_jupyterlab_starts_the_course_kernel_without_asking(student_view):
    kernel, dialogs, _ = student_view
    assert kernel == KERNEL_SPEC["display_name"] and dialogs == 0


@pytest.mark.slow
def test_the_student_reads_the_message_first_and_no_log_line(student_view):
    _, _, (setup, _stub, unwritten, failed, own) = student_view
    assert not [text for mime, text in setup if mime == "application/vnd.jupyter.stderr"], setup
    (mime, text), = unwritten
    assert text.startswith("\u2718 `conv_forward_naive` is not written yet"), text
    assert "Traceback" not in text and "grading.py" not in text
    (mime, text), = failed
    lines = text.splitlines()
    assert lines[0] == "\u2718 two numbers" and "  hint: add them" in lines, text
    assert "Traceback" not in text and "grading.py" not in text
    (mime, text), = own
    assert "IndexError" in text and "return [0][x]" in text, text  # the student's own line, as Python shows it
