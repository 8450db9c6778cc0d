"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).

lstm_forward calls the student's lstm_cell_forward; its checks put the reference cell in its
place (``Check.stand_ins``), so a mistake in the cell does not cost points twice.
"""

MISTAKES = {
    "lstm_cell_forward": {
        "A": {"find": "a_i, a_f, a_g, a_o = np.split", "replace": "a_i, a_f, a_o, a_g = np.split",
              "expect": "wrong gate order"},
        "B": {"find": "h = o * np.tanh(c)", "replace": "h = o * c",
              "expect": "tanh(c_t) is missing"},
    },
    "lstm_forward": {
        "A": {"find": "np.stack(hs, axis=1)", "replace": "np.stack(hs, axis=0)",
              "expect": "look swapped"},
        "B": {"find": "for t in range(x.shape[1]):", "replace": "for t in range(x.shape[1] - 1):",
              "expect": "axis 1 has size"},
    },
    "lstm_cell_backward": {
        "A": {"find": "dc_total = dc + dh * o * (1 - tanh_c**2)", "replace": "dc_total = dc",
              "expect": "the gradient flowing from h into c is missing"},
        "B": {"find": "dc_prev = dc_total * f", "replace": "dc_prev = dc_total",
              "expect": "dc_prev is missing the forget gate"},
    },
    "lstm_layer_forward": {
        "A": {"find": "i, f, g, o = (x[:, t]", "replace": "i, f, o, g = (x[:, t]",
              "expect": "wrong gate order"},
        "B": {"find": "b = lstm.bias_ih_l0 + lstm.bias_hh_l0", "replace": "b = lstm.bias_ih_l0",
              "expect": "bias_hh is missing"},
    },
    "lstm_from_cs231n": {
        "A": {"find": "np.concatenate([i, f, g, o], axis=-1)",
              "replace": "np.concatenate([i, f, o, g], axis=-1)",
              "expect": "still in CS231n order"},
        "B": {"find": "reorder(Wh), reorder(b)", "replace": "reorder(Wh), b",
              "expect": "the bias was not reordered"},
    },
}
