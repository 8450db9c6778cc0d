"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "sample_next": {
        "A": {"find": "torch.softmax(logits / temperature",
              "replace": "torch.softmax(logits * temperature",
              "expect": "multiplied by the temperature"},
        "B": {"find": 'masked_fill(logits < kth_largest, float("-inf"))',
              "replace": "masked_fill(logits < kth_largest, 0.0)",
              "expect": "set them to -inf"},
    },
    "beam_search": {
        "A": {"find": "return [tokens[1:] for tokens, _ in beams]",
              "replace": "return [tokens for tokens, _ in beams]",
              "expect": "the start token is included"},
        "B": {"find": "for _ in range(max_len):", "replace": "for _ in range(max_len - 1):",
              "expect": "off by one: max_len - 1 tokens"},
    },
    "tbptt_epoch": {
        "A": {"find": "state = state.detach()", "replace": "state = state",
              "expect": "detach it"},
        "B": {"find": "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"
                      "        with torch.no_grad():\n"
                      "            for p in model.parameters():\n"
                      "                p -= lr * p.grad\n",
              "replace": "        with torch.no_grad():\n"
                         "            for p in model.parameters():\n"
                         "                p -= lr * p.grad\n"
                         "        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
              "expect": "clipped after the weight update"},
    },
    "many_to_one_logits": {
        "A": {"find": "head(outputs[batch, lengths - 1])", "replace": "head(outputs[:, -1])",
              "expect": "that is padding for every shorter sequence"},
        "B": {"find": "outputs[batch, lengths - 1]", "replace": "outputs[batch, lengths]",
              "expect": "off-by-one in time"},
    },
}
