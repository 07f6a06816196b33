"""The CNN course package: model zoo, convolution arithmetic, data, training,
grading checks and demo helpers. Import the submodules you need, e.g.
``from course import models, arith, data``; importing ``course`` alone is cheap
(TensorFlow loads only when a submodule needs it)."""

__version__ = "0.1.0"
