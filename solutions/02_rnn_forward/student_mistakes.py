"""Mistakes students plausibly make that nobody listed in mistakes.py: the Elman step, the loop
over time and its options, counting parameters, reading nn.RNN's weights and carrying state.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "rnn_cell_forward": {
        "bias_forgotten": {
            "find": "h_prev @ W_h + b)",
            "replace": "h_prev @ W_h)",
            "expect": "the bias b is missing",
            "what": "Left the bias b out of the pre-activation.",
        },
        "cast_float32": {
            "find": "return np.tanh(x @ W_x + h_prev @ W_h + b)",
            "replace": "return np.tanh(x @ W_x + h_prev @ W_h + b).astype(np.float32)",
            "expect": "keep the inputs' dtype, float64; do not cast",
            "what": "Cast the new state to float32 'to save memory', losing float64 precision.",
        },
    },
    "rnn_forward": {
        "reversed_batch_axis": {
            "find": "x = x[:, ::-1]",
            "replace": "x = x[::-1]",
            "expect": "go_backwards reversed the batch axis",
            "what": "For go_backwards, reversed the first axis (the batch) instead of time.",
        },
        "flipped_outputs_back": {
            "find": "output = np.stack(outputs, axis=1) if",
            "replace": "output = np.stack(outputs[::-1] if go_backwards else outputs, axis=1) if",
            "expect": "they were flipped back",
            "what": "With go_backwards, flipped the outputs back into x's order, though Keras "
                    "returns them in processing order.",
        },
        "returned_h0_as_state": {
            "find": "return output, h\n",
            "replace": "return output, h0\n",
            "expect": "the result[1] equals the input `h0`, unchanged",
            "what": "Returned the initial state h0 as the final state with return_state=True.",
        },
        "looped_over_batch": {
            "find": "for t in range(x.shape[1]):",
            "replace": "for t in range(x.shape[0]):",
            "expect": "has the size of the batch rows (3) where the time steps (5) belong",
            "what": "Looped over x.shape[0] (the batch size) instead of the number of steps.",
        },
    },
    "count_params": {
        "W_h_counted_as_D_by_H": {
            "find": "+ hidden_size * hidden_size",
            "replace": "+ input_size * hidden_size",
            "expect": "W_h counted as D × H",
            "what": "Counted W_h as D x H, like W_x, although it maps the state to the state.",
        },
        "bias_flag_ignored": {
            "find": "biases = hidden_size if bias else 0",
            "replace": "biases = hidden_size",
            "expect": "bias=False was ignored",
            "what": "Always counted the bias, even with bias=False.",
        },
    },
    "torch_rnn_weights": {
        "only_W_h_untransposed": {
            "find": "W_h = rnn.weight_hh_l0.T",
            "replace": "W_h = rnn.weight_hh_l0",
            "expect": "W_h is transposed: torch's weight_hh_l0 is (out, in)",
            "what": "Transposed weight_ih_l0 but forgot that weight_hh_l0 is stored (out, in) too.",
        },
        "averaged_biases": {
            "find": "b = rnn.bias_ih_l0 + rnn.bias_hh_l0",
            "replace": "b = (rnn.bias_ih_l0 + rnn.bias_hh_l0) / 2",
            "expect": "the two biases were averaged",
            "what": "Averaged PyTorch's two bias vectors instead of adding them.",
        },
    },
    "stateful_rnn": {
        "time_major_last_output": {
            "find": "state = h_n  #",
            "replace": "state = out[-1].unsqueeze(0)  #",
            "expect": "h_n is (1, B, H): pass h_n on",
            "what": "Took out[-1] as the last step's output, as if out were time-major; with "
                    "batch_first it is the last sample's whole sequence.",
        },
        "state_set_once": {
            "find": "state = h_n  #",
            "replace": "state = h_n if state is None else state  #",
            "expect": "only the first batch's final state was carried",
            "what": "Kept the state from the first batch only, so every later batch restarts "
                    "from the first batch's final state instead of the previous one's.",
            "uncaught": "three batches: with rnn = nn.RNN(2, 4, batch_first=True, "
                        "dtype=torch.float64) and batches = [torch.randn(3, 5, 2, "
                        "dtype=torch.float64) for _ in range(3)] (torch.manual_seed(0)), the "
                        "third output differs from the solution's; the checker uses two batches",
        },
    },
}
