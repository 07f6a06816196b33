"""The course's autograder: nbgrader, made safe, parallel and fair to TensorFlow.

Commands (``python -m autograder COMMAND --help``): ``release``, ``check``,
``grade``, ``feedback``, ``export``, ``demo``; each takes ``--workdir`` and
``--db``. The Python API is in `autograder.api`; how a kernel is isolated is
in `autograder.sandbox`; how grading is split between the grader (the only
writer of the gradebook) and the workers is in `autograder.pipeline`.
"""
