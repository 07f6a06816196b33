# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Autograder sample, part 2: TensorFlow as the oracle
#
# Unlike the course's assignments, this notebook does not call
# `course.runtime.start()` first, on purpose: TensorFlow is imported, and runs
# its first operation, *inside a test cell*, where it writes log lines to
# stderr. Stock nbgrader scores such a cell zero; a correct solution must get
# full marks here.

# %% nbgrader={"grade": false, "grade_id": "imports_tf_part", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from course.grading import expect_close

# %% [markdown]
# **4.** Implement a numerically stable softmax over the last axis.

# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax(z):
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_softmax", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
import tensorflow as tf  # first import and first operation of TensorFlow: it logs to stderr

z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
expect_close(softmax(z), tf.nn.softmax(tf.constant(z)).numpy(), "softmax of two rows", rtol=1e-6,
             mistakes={"normalised over the wrong axis": tf.nn.softmax(tf.constant(z), axis=0).numpy()},
             hint="exponentiate, then divide by the sum over the last axis")
### BEGIN HIDDEN TESTS
big = np.array([[1000.0, 1001.0, 1002.0]])
expect_close(softmax(big), tf.nn.softmax(tf.constant(big)).numpy(), "softmax of large logits", rtol=1e-6,
             hint="subtract the row maximum before exponentiating, or exp overflows")
### END HIDDEN TESTS
