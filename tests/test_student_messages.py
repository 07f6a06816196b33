"""What a student reads when a check fails: the message first, no test internals, no log noise (issue 14).

Unit tests of the helpers in `course.grading` and `course.quiet`, then one real
Jupyter kernel running a notebook the way JupyterLab does.
"""
from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from course.grading import (GradingError, NotWrittenYet, expect_close, expect_equal, expect_raises,
                            unwritten_function)
from course.quiet import is_noise


def failure(check) -> GradingError:
    with pytest.raises(GradingError) as caught:
        check()
    return caught.value


def test_a_failed_check_leads_with_what_was_checked_then_where_it_differs():
    error = failure(lambda: expect_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), "two numbers",
                                         hint="add them"))
    lines = error._render_traceback_()[0].splitlines()
    assert lines[0] == "\u2718 two numbers"
    assert lines[1] == "  1 of 2 values differ (shape (2,), max relative error 1.11e-01)."
    assert lines[2] == "  first difference at index (1,): expected 2, got 2.5"
    assert lines[-1] == "  hint: add them"
    assert str(error) == error._render_traceback_()[0]  # what nbgrader stores as the error's value


def test_a_known_mistake_is_named_and_the_difference_still_shown():
    wrong = np.array([3.0, 4.0])
    error = failure(lambda: expect_close(wrong, np.array([1.0, 2.0]), "sum", mistakes={"doubled": [2.0, 4.0],
                                                                                       "plus two": wrong}))
    text = str(error)
    assert "your result matches a typical mistake: plus two" in text and "doubled" not in text
    assert "expected 1, got 3" in text
    shrunk = failure(lambda: expect_close([1.0], [1.0, 2.0], "sum", mistakes={"last value dropped": [1.0]}))
    assert "typical mistake: last value dropped" in str(shrunk) and "expected shape (2,), got (1,)" in str(shrunk)


def test_the_right_answer_passes_with_a_tick(capsys):
    expect_close(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-9], "close enough")
    expect_equal((3, 3), (3, 3), "a size")
    expect_raises(lambda: int("x"), ValueError, "refuses")
    assert capsys.readouterr().out == "\u2714 close enough\n\u2714 a size\n\u2714 refuses\n"
    assert "expected (3, 4), got (3, 3)" in str(failure(lambda: expect_equal((3, 3), (3, 4), "a size")))


def test_only_a_stub_in_a_notebook_cell_counts_as_unwritten():
    assert unwritten_function([("<ipython-input-3>", "<module>"), ("/tmp/ipykernel_7/12.py", "conv")]) == "conv"
    assert unwritten_function([("/tmp/ipykernel_7/12.py", "<module>")]) == ""  # raised at a cell's top level
    assert unwritten_function([("/tmp/ipykernel_7/12.py", "f"), ("/venv/site-packages/keras/x.py", "call")]) is None
    assert "`conv` is not written yet" in str(NotWrittenYet("conv"))


@pytest.mark.parametrize("line, noise", [
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
    ("I0000 00:00:1796175320.983214    2602 port.cc:153] oneDNN custom operations are on.", True),
    ("I0000 00:00:1796175320.984590    2602 cudart_stub.cc:31] Could not find cuda drivers on your machine", True),
    ("E0000 00:00:1796175320.1  2602 cuda_dnn.cc:8310] Unable to register cuDNN factory: already registered", True),
    ("W0000 00:00:1796175320.1  2602 tf_tfl_flatbuffer_helpers.cc:365] Ignored output_format.", True),
    ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", True),
    ("fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8", True),
    ("E0000 00:00:1796175320.1  2602 op_kernel.cc:1830] OP_REQUIRES failed: out of memory", False),
    ("UserWarning: something the student should see", False),
    ("Traceback (most recent call last):", False),
])
def test_what_counts_as_native_start_up_noise(line, noise):
    assert is_noise(line) is noise


def test_native_lines_are_held_back_and_real_ones_passed_on():
    code = ("import os\nfrom course.quiet import native_logs_held_back\n"
            "with native_logs_held_back():\n"
            "    os.write(2, b'I0000 00:00:1.5  7 port.cc:153] oneDNN custom operations are on.\\n')\n"
            "    os.write(2, b'a real error from C code\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "a real error from C code\n"


@pytest.mark.slow
def test_in_a_real_kernel_the_message_is_all_the_student_reads():
    """First cell (TensorFlow starts: no log lines), a stub, a failed check, and an error in the student's code."""
    nb = new_notebook(cells=[
        new_code_cell("from course.runtime import start\nprofile = start()"),
        new_code_cell("def conv(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
        new_code_cell("from course.grading import expect_close\nexpect_close(conv(1), 2.0, 'conv of one number')"),
        new_code_cell("expect_close([1.0, 2.5], [1.0, 2.0], 'two numbers', hint='add them')"),
        new_code_cell("def mine(x):\n    return [0][x]\nmine(3)"),
    ])
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300).execute()
    first, _, stub, check, own = nb.cells
    assert [o.output_type for o in first.outputs] == ["stream"], first.outputs  # stdout only: no stderr at all
    (error,) = stub.outputs
    assert error.ename == "NotWrittenYet" and error.traceback[0].startswith("\u2718 `conv` is not written yet")
    (error,) = check.outputs
    assert error.ename == "GradingError" and error.traceback[0].startswith("\u2718 two numbers")
    assert not any("Traceback" in line or "grading.py" in line for line in error.traceback)
    (error,) = own.outputs
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "".join(error.traceback))  # without IPython's colours
    assert error.ename == "IndexError" and "return [0][x]" in plain  # their line, shown


def test_inexact_divisions_names_each_axis_that_floors():
    from course.grading import inexact_divisions

    assert inexact_divisions((8, 9), (3, 3), 2) == "height: (8 - 3) / 2 = 2.5, floored to 2, so 3 outputs"
    assert inexact_divisions((7, 7), (3, 3), 2, pad=1) == ""  # (7 + 2 - 3) / 2 = 3 exactly
