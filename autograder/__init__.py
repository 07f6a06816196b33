"""The course's autograder: nbgrader, made safe, parallel and fair to TensorFlow.

Commands (``python -m autograder COMMAND --help``): ``release``, ``check``,
``roster``, ``lms``, ``grade``, ``similarity``, ``feedback``, ``export``,
``demo``; each takes ``--workdir``, ``--db`` and ``--course`` (an existing
nbgrader course). The Python API is in `autograder.api`; how a kernel is
isolated is in `autograder.sandbox`; how grading is split between the grader
(the only writer of the gradebook) and the workers is in
`autograder.pipeline`; nbgrader's own Autograde and feedback are hooked in by
`autograder.nbgrader_autograde` and `autograder.hidden_tests`.
"""
import sys

# nbformat validates with jsonschema, which, when the optional rfc3987-syntax is installed (Jupyter's event
# schemas pull it in), builds 38 parsers for the "iri" formats at import: 2.6 s in every grader and worker
# process. No notebook or gradebook schema uses those formats; without the module jsonschema skips them.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
