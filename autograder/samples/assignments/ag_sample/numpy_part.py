# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Autograder sample, part 1: NumPy only
#
# A deliberately small assignment that lives with the autograder's tests. It
# starts no TensorFlow, so that the hostile sample submissions (infinite loops,
# memory bombs, crashes...) cost little time to grade.

# %% nbgrader={"grade": false, "grade_id": "imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import numpy as np
from course.grading import expect_close, expect_shape

# %% [markdown]
# **1.** Implement the rectified linear unit, elementwise: `relu(x) = max(x, 0)`.

# %% nbgrader={"grade": false, "grade_id": "relu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu(x):
    ### BEGIN SOLUTION
    return np.maximum(x, 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
expect_close(relu(x), [0.0, 0.0, 0.0, 0.5, 3.0], "relu on five numbers",
             mistakes={"returned the input unchanged": x, "used abs instead of max": np.abs(x)},
             hint="negative inputs become 0, the others pass through")

# %% [markdown]
# **2.** Slide a kernel `w` over a 1-D signal `x` without padding (what deep
# learning calls convolution is a *correlation*: the kernel is not flipped).
# The result has `len(x) - len(w) + 1` entries.

# %% nbgrader={"grade": false, "grade_id": "slide", "locked": false, "schema_version": 3, "solution": true, "task": false}
def slide(x, w):
    ### BEGIN SOLUTION
    n = len(x) - len(w) + 1
    return np.array([np.dot(x[i:i + len(w)], w) for i in range(n)])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_slide", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
x = np.array([1.0, 2.0, 0.0, -1.0, 3.0])
w = np.array([1.0, 0.0, -2.0])
expect_shape(slide(x, w), (3,), "slide of 5 samples with a 3-tap kernel",
             hint="no padding: len(x) - len(w) + 1 outputs")
expect_close(slide(x, w), np.correlate(x, w, mode="valid"), "slide([1,2,0,-1,3], [1,0,-2])",
             mistakes={"flipped the kernel (true convolution)": np.convolve(x, w, mode="valid")},
             hint="out[i] = sum_k x[i + k] * w[k]")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(0)
for n, k in [(10, 1), (7, 7), (50, 5)]:
    x, w = rng.normal(size=n), rng.normal(size=k)
    expect_close(slide(x, w), np.correlate(x, w, mode="valid"), f"slide with n={n}, k={k}",
                 mistakes={"flipped the kernel (true convolution)": np.convolve(x, w, mode="valid")})
### END HIDDEN TESTS

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_relu", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false}
# **3.** In one sentence: why does a ReLU network not suffer from saturating
# gradients for positive inputs?
#
# The derivative of ReLU is exactly 1 for positive inputs, so the gradient is passed on unshrunk.
