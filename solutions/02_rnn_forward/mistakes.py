"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "rnn_cell_forward": {
        "A": {"find": "np.tanh(x @ W_x + h_prev @ W_h + b)",
              "replace": "x @ W_x + h_prev @ W_h + b", "expect": "tanh is missing"},
        "B": {"find": "h_prev @ W_h", "replace": "h_prev @ W_h.T",
              "expect": "W_h is used transposed"},
    },
    "rnn_forward": {
        "A": {"find": "        h = rnn_cell_forward(x[:, t], h, W_x, W_h, b)\n"
                      "        outputs.append(h)",
              "replace": "        outputs.append(h)\n"
                         "        h = rnn_cell_forward(x[:, t], h, W_x, W_h, b)",
              "expect": "off by one in time"},
        "B": {"find": "rnn_cell_forward(x[:, t], h, W_x, W_h, b)",
              "replace": "rnn_cell_forward(x[:, t], h0, W_x, W_h, b)",
              "expect": "the state is not carried"},
    },
    "count_params": {
        "A": {"find": "weights = input_size * hidden_size + hidden_size * hidden_size",
              "replace": "weights = input_size * hidden_size",
              "expect": "W_h (H × H) are missing"},
        "B": {"find": "biases = hidden_size if bias else 0",
              "replace": "biases = 2 * hidden_size if bias else 0",
              "expect": "two bias vectors counted"},
    },
    "torch_rnn_weights": {
        "A": {"find": "W_x = rnn.weight_ih_l0.T  # torch stores (out, in) = (H, D)\n"
                      "    W_h = rnn.weight_hh_l0.T",
              "replace": "W_x = rnn.weight_ih_l0\n    W_h = rnn.weight_hh_l0",
              "expect": "torch stores weights as (out, in)"},
        "B": {"find": "b = rnn.bias_ih_l0 + rnn.bias_hh_l0", "replace": "b = rnn.bias_ih_l0",
              "expect": "a bias is missing"},
    },
    "stateful_rnn": {
        "A": {"find": "state = h_n  #", "replace": "state = None  #",
              "expect": "not stateful"},
        "B": {"find": "state = h_n  #", "replace": "state = h_n[0]  #",
              "expect": "(num_layers * num_directions, B, H)"},
    },
}
