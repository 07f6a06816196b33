"""Typical mistakes for the autograder's sample assignment (the format every assignment follows).

``MISTAKES`` maps a description of a mistake students make to the replacement
source of the solution cells it touches ({grade_id: code}). tests/test_mistakes.py
builds one submission per mistake from the source notebooks (every other
solution left in place), grades them, and requires each to lose points.
"""

MISTAKES = {
    "relu written with abs": {
        "relu": "def relu(x):\n    return np.abs(x)",
    },
    "relu that clips negative inputs to 0 but also caps positives at 1": {
        "relu": "def relu(x):\n    return np.clip(x, 0.0, 1.0)",
    },
    "true convolution (the kernel flipped)": {
        "slide": "def slide(x, w):\n    return np.convolve(x, w, mode='valid')",
    },
    "zero padding kept ('same' instead of 'valid')": {
        "slide": "def slide(x, w):\n    return np.correlate(x, w, mode='same')",
    },
    "softmax normalised over the wrong axis": {
        "softmax": "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / e.sum(axis=0, keepdims=True)",
    },
    "softmax without subtracting the maximum (overflows)": {
        "softmax": "def softmax(z):\n    e = np.exp(np.asarray(z, dtype=float))\n    return e / e.sum(axis=-1, keepdims=True)",
    },
}
