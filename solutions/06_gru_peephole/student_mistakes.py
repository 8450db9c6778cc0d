"""Mistakes students plausibly make that nobody listed in mistakes.py: the GRU step in both reset
placements, the peephole LSTM step, parameter counts and reproducing nn.GRU by hand.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "gru_cell_forward": {
        "b_hn_outside_reset": {
            "find": "r * (h_prev @ W_hn + b_hn)",
            "replace": "r * (h_prev @ W_hn) + b_hn",
            "expect": "b_hn was added outside the reset gate",
            "what": "In the PyTorch form, left the hidden bias b_hn outside the reset gate, "
                    "though nn.GRU multiplies r by (h W_hn + b_hn).",
        },
        "update_uses_reset_gate": {
            "find": "return (1 - z) * n + z * h_prev",
            "replace": "return (1 - r) * n + r * h_prev",
            "expect": "mixed with the reset gate r",
            "what": "Interpolated with the reset gate r instead of the update gate z.",
        },
        "input_blocks_z_r_n": {
            "find": "x_r, x_z, x_n = np.split(",
            "replace": "x_z, x_r, x_n = np.split(",
            "expect": "the input projection's blocks were read as z, r, n",
            "what": "Read the input projection's blocks as z, r, n (Keras) while reading the "
                    "hidden ones as r, z, n.",
        },
    },
    "peephole_lstm_cell_forward": {
        "output_peeks_tanh_c": {
            "find": "o = sigmoid(a_o + p_o * c)",
            "replace": "o = sigmoid(a_o + p_o * np.tanh(c))",
            "expect": "the output gate peeked at tanh(c_t)",
            "what": "Let the output gate look at tanh(c_t) instead of c_t itself.",
        },
        "input_gate_uses_p_f": {
            "find": "i = sigmoid(a_i + p_i * c_prev)",
            "replace": "i = sigmoid(a_i + p_f * c_prev)",
            "expect": "the input gate used the forget gate's peephole p_f",
            "what": "Copy-pasted the forget gate's line and used p_f in the input gate too.",
        },
        "coupled_input_forget": {
            "find": "c = f * c_prev + i * g",
            "replace": "c = f * c_prev + (1 - f) * g",
            "expect": "the input gate was replaced by 1 − f",
            "what": "Coupled the gates (CIFG, i = 1 - f) and ignored the input gate.",
        },
    },
    "count_params": {
        "gru_two_blocks": {
            "find": '"gru": 3',
            "replace": '"gru": 2',
            "expect": "the GRU was counted with two blocks",
            "what": "Counted two blocks for the GRU (its two gates r and z), forgetting the "
                    "candidate n.",
        },
        "four_peepholes": {
            "find": "peepholes = 3 * hidden_size",
            "replace": "peepholes = 4 * hidden_size",
            "expect": "a peephole was counted for the candidate g too",
            "what": "Counted a peephole for each of the four blocks, including the candidate g.",
        },
        "torch_rnn_one_bias": {
            "find": 'n_biases = 2 if convention == "torch" or kind == "gru" else 1',
            "replace": 'n_biases = 2 if (convention == "torch" and kind != "rnn") or kind == "gru" '
                       "else 1",
            "expect": "torch has two, bias_ih and bias_hh",
            "what": "Thought only the gated layers carry PyTorch's second bias vector, so counted "
                    "one bias for nn.RNN.",
        },
    },
    "gru_layer_forward": {
        "keras_update_convention": {
            "find": "h = (1 - z) * n + z * h",
            "replace": "h = z * n + (1 - z) * h",
            "expect": "nn.GRU keeps z of the old state",
            "what": "Used the Keras-paper reading of z and mixed the new state as z * n + (1 - z) "
                    "* h, the opposite of nn.GRU.",
        },
        "returned_hidden_chunk_h_n": {
            "find": "return torch.stack(outputs, dim=1), h.unsqueeze(0)",
            "replace": "return torch.stack(outputs, dim=1), h_n.unsqueeze(0)",
            "expect": "the n block of the hidden projection",
            "what": "Returned the loop variable h_n (the n block of the hidden projection), "
                    "thinking it was nn.GRU's final state h_n.",
        },
        "bias_hh_forgotten": {
            "find": "h @ gru.weight_hh_l0.T + gru.bias_hh_l0",
            "replace": "h @ gru.weight_hh_l0.T",
            "expect": "bias_hh is missing: nn.GRU adds both biases",
            "what": "Left out bias_hh_l0, though nn.GRU adds both bias vectors.",
        },
    },
}
