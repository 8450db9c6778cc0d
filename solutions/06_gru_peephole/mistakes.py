"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "gru_cell_forward": {
        "A": {"find": "return (1 - z) * n + z * h_prev",
              "replace": "return z * n + (1 - z) * h_prev",
              "expect": "z and 1 − z are swapped"},
        "B": {"find": "n = np.tanh(x_n + (r * h_prev) @ W_hn + b_hn)",
              "replace": "n = np.tanh(x_n + r * (h_prev @ W_hn + b_hn))",
              "expect": "the reset gate was applied after the matmul"},
    },
    "peephole_lstm_cell_forward": {
        "A": {"find": "o = sigmoid(a_o + p_o * c)", "replace": "o = sigmoid(a_o + p_o * c_prev)",
              "expect": "the output gate looked at the old cell state"},
        "B": {"find": "f = sigmoid(a_f + p_f * c_prev)", "replace": "f = sigmoid(a_f)",
              "expect": "the forget gate's peephole"},
    },
    "count_params": {
        "A": {"find": "peepholes = 3 * hidden_size if", "replace": "peepholes = 0 if",
              "expect": "peephole vectors p_i, p_f, p_o (3H) are not counted"},
        "B": {"find": 'convention == "torch" or kind == "gru"', "replace": 'convention == "torch"',
              "expect": "needs two bias vectors"},
    },
    "gru_layer_forward": {
        "A": {"find": "r = torch.sigmoid(x_r + h_r)\n        z = torch.sigmoid(x_z + h_z)",
              "replace": "z = torch.sigmoid(x_r + h_r)\n        r = torch.sigmoid(x_z + h_z)",
              "expect": "wrong gate order"},
        "B": {"find": "n = torch.tanh(x_n + r * h_n)",
              "replace": "n = torch.tanh(x_n + (r * h) @ gru.weight_hh_l0[2 * gru.hidden_size :].T"
                         " + gru.bias_hh_l0[2 * gru.hidden_size :])",
              "expect": "reset gate was applied before the matmul"},
    },
}
