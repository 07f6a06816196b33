"""Wrong-but-plausible answers to assignment 07_distillation; the tests must reject every one.

Each mistake is the source solution with one small edit (see 01_convolution.py for the pattern):
if the solution changes so that an edit no longer applies, importing this module fails and says
which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_solution = SolutionEdits("07_distillation")
_edit = _solution.edit


_TEACHER_INSIDE_TAPE = ("""        teacher_logits = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
""", """        with tf.GradientTape() as tape:
            teacher_logits = self.teacher(x, training=True)
""")

MISTAKES = {
    # softmax_with_temperature
    "softmax taken from the tests' own oracle (course.training_checks)":
        _solution.body("softmax_t", "from course.training_checks import log_softmax\n"
                       "    return tf.exp(tf.constant(log_softmax(logits, temperature), tf.float32))"),
    "temperature applied after the softmax":
        _edit("softmax_t", ("tf.nn.softmax(logits / temperature, axis=-1)", "tf.nn.softmax(logits, axis=-1) / temperature")),
    "logits multiplied by the temperature":
        _edit("softmax_t", ("logits / temperature", "logits * temperature")),
    "softmax over the batch axis":
        _edit("softmax_t", ("axis=-1", "axis=0")),
    # distillation_loss
    "T^2 factor missing":
        _edit("distillation_loss", ("(1.0 - alpha) * temperature ** 2 * kl", "(1.0 - alpha) * kl")),
    "T instead of T^2":
        _edit("distillation_loss", ("temperature ** 2 * kl", "temperature * kl")),
    "student softmax without temperature":
        _edit("distillation_loss", ("tf.nn.log_softmax(student_logits / temperature, axis=-1)",
                                    "tf.nn.log_softmax(student_logits, axis=-1)")),
    "teacher softmax without temperature":
        _edit("distillation_loss", ("p_teacher = tf.nn.softmax(teacher_logits / temperature, axis=-1)",
                                    "p_teacher = tf.nn.softmax(teacher_logits, axis=-1)"),
              ("log_p_teacher = tf.nn.log_softmax(teacher_logits / temperature, axis=-1)",
               "log_p_teacher = tf.nn.log_softmax(teacher_logits, axis=-1)")),
    "KL direction reversed (student first)":
        _edit("distillation_loss", ("tf.reduce_sum(p_teacher * (log_p_teacher - log_q_student), axis=-1)",
                                    "tf.reduce_sum(tf.exp(log_q_student) * (log_q_student - log_p_teacher), axis=-1)")),
    "alpha weights swapped":
        _edit("distillation_loss", ("return alpha * hard + (1.0 - alpha) *", "return (1.0 - alpha) * hard + alpha *")),
    "hard-label loss at temperature T":
        _edit("distillation_loss", ("(y_true, student_logits, from_logits=True)",
                                    "(y_true, student_logits / temperature, from_logits=True)")),
    "sum over the batch instead of the mean":
        _edit("distillation_loss", ("kl = tf.reduce_mean(", "kl = tf.reduce_sum(")),
    "distillation loss taken from course.distill":
        _solution.body("distillation_loss", "from course.distill import distillation_loss as lecture_loss\n"
                       "    return lecture_loss(y_true, student_logits, teacher_logits, temperature, alpha)"),
    # Distiller
    "teacher trained too (inside the tape, all variables)":
        _edit("distiller", _TEACHER_INSIDE_TAPE,
              ("variables = self.student.trainable_variables", "variables = self.trainable_variables")),
    "teacher run in training mode":
        _edit("distiller", ("teacher_logits = self.teacher(x, training=False)",
                            "teacher_logits = self.teacher(x, training=True)")),
    "student and teacher swapped in the loss":
        _edit("distiller", ("distillation_loss(y, student_logits, teacher_logits,",
                            "distillation_loss(y, teacher_logits, student_logits,")),
    "no optimizer step":
        _edit("distiller", ("        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))\n", "")),
    "test_step reports the distillation loss":
        _edit("distiller", ("        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, student_logits, from_logits=True))",
                            "        loss = distillation_loss(y, student_logits, self.teacher(x, training=False), self.temperature, self.alpha)")),
}
