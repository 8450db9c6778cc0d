"""Mistakes students plausibly make that nobody listed in mistakes.py: the LSTM step, its loop
over time, its backward pass, reproducing nn.LSTM by hand and porting CS231n weights.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "lstm_cell_forward": {
        "candidate_sigmoid": {
            "find": "np.tanh(a_g)",
            "replace": "sigmoid(a_g)",
            "expect": "the candidate g was squashed with a sigmoid",
            "what": "Squashed the candidate g with a sigmoid like the gates, instead of tanh.",
        },
        "returned_c_h": {
            "find": "return h, c",
            "replace": "return c, h",
            "expect": "the result[0] holds what the result[1] should",
            "what": "Returned (c, h) instead of (h, c).",
        },
        "h_from_old_cell": {
            "find": "h = o * np.tanh(c)",
            "replace": "h = o * np.tanh(c_prev)",
            "expect": "h was computed from the old cell state",
            "what": "Computed h from the previous cell state instead of the new one.",
        },
    },
    "lstm_forward": {
        "cell_state_not_carried": {
            "find": "lstm_cell_forward(x[:, t], h, c, W_x, W_h, b)",
            "replace": "lstm_cell_forward(x[:, t], h, c0, W_x, W_h, b)",
            "expect": "the cell state was not carried over time",
            "what": "Carried h from step to step but fed c0 to every step instead of the previous "
                    "cell state.",
        },
        "time_major_indexing": {
            "find": "lstm_cell_forward(x[:, t],",
            "replace": "lstm_cell_forward(x[t],",
            "expect": "x[t] is sample t",
            "what": "Indexed x[t] as if x were time-major, which picks sample t instead of step t.",
        },
    },
    "lstm_cell_backward": {
        "do_uses_c": {
            "find": "do = dh * tanh_c",
            "replace": "do = dh * c",
            "expect": "the output gate's gradient used c",
            "what": "Used c instead of tanh(c) for the output gate's gradient.",
        },
        "df_uses_new_c": {
            "find": 'dc_total * cache["c_prev"]',
            "replace": "dc_total * c",
            "expect": "the forget gate's gradient used the new cell c",
            "what": "Used the new cell state c instead of c_prev in the forget gate's gradient.",
        },
        "gate_blocks_ifog": {
            "find": "dg * (1 - g**2), do * o * (1 - o)]",
            "replace": "do * o * (1 - o), dg * (1 - g**2)]",
            "expect": "has its gate blocks in the order i, f, o, g",
            "what": "Stacked the gate gradients in CS231n order i, f, o, g instead of i, f, g, o.",
        },
    },
    "lstm_layer_forward": {
        "float32_zero_state": {
            "find": "h = x.new_zeros(batch, lstm.hidden_size)",
            "replace": "h = torch.zeros(batch, lstm.hidden_size)",
            "expect": "torch.zeros(...) is float32 on the CPU whatever x is",
            "what": "Created the zero state with torch.zeros, which is float32 on the CPU "
                    "whatever the input's dtype and device.",
        },
        "reshaped_W_h": {
            "find": "lstm.weight_hh_l0.T",
            "replace": "lstm.weight_hh_l0.reshape(lstm.hidden_size, -1)",
            "expect": "weight_hh was reshaped to (H, 4H) instead of transposed",
            "what": "Reshaped weight_hh_l0 (4H, H) to (H, 4H) instead of transposing it, which "
                    "scrambles its entries.",
        },
    },
    "lstm_from_cs231n": {
        "transposed_to_torch_layout": {
            "find": "return reorder(Wx), reorder(Wh), reorder(b)",
            "replace": "return reorder(Wx).T, reorder(Wh).T, reorder(b)",
            "expect": "the weights were transposed to PyTorch's (4H, in) layout",
            "what": "Transposed the weights to PyTorch's (4H, in) layout, though the course keeps "
                    "CS231n's (in, 4H).",
        },
        "inplace_swap_of_views": {
            "find": "        i, f, o, g = np.split(W, 4, axis=-1)\n"
                    "        return np.concatenate([i, f, g, o], axis=-1)",
            "replace": "        H = W.shape[-1] // 4\n"
                       "        W[..., 2 * H : 3 * H], W[..., 3 * H :] = W[..., 3 * H :], "
                       "W[..., 2 * H : 3 * H]\n"
                       "        return W",
            "expect": "swapped in place through numpy views",
            "what": "Swapped the o and g blocks in place with a tuple assignment of numpy views, "
                    "which overwrites the input and copies the g block twice.",
        },
    },
}
