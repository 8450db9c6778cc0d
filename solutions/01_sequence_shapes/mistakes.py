"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "pad_sequences": {
        "A": {"find": 'if padding == "post":', "replace": 'if padding == "pre":',
              "expect": "padding went"},
        "B": {"find": 'seq[-maxlen:] if truncating == "pre" else seq[:maxlen]',
              "replace": 'seq[:maxlen] if truncating == "pre" else seq[-maxlen:]',
              "expect": "long sequences kept their"},
    },
    "lengths_to_mask": {
        "A": {"find": "steps[None, :] < lengths", "replace": "steps[None, :] <= lengths",
              "expect": "off by one"},
        "B": {"find": "steps[None, :] < lengths", "replace": "steps[None, :] >= lengths",
              "expect": "the mask is inverted"},
    },
    "last_valid_step": {
        "A": {"find": "return outputs[batch, lengths - 1]", "replace": "return outputs[:, -1]",
              "expect": "which is padding for shorter sequences"},
        "B": {"find": "outputs[batch, lengths - 1]", "replace": "outputs[batch, lengths]",
              "expect": "off-by-one in time"},
    },
    "to_time_major": {
        "A": {"find": "return x.transpose(0, 1)",
              "replace": "return x.reshape(x.shape[1], x.shape[0], *x.shape[2:])",
              "expect": "reshaped instead of transposed"},
        "B": {"find": "return x.transpose(0, 1)", "replace": "return x.transpose(1, 2)",
              "expect": "look swapped"},
    },
    "pattern_output": {
        "A": {"find": '"many-to-one": "last"', "replace": '"many-to-one": "all"',
              "expect": "reads only the last valid step"},
        "B": {"find": '"many-to-many-unaligned": "state"',
              "replace": '"many-to-many-unaligned": "all"',
              "expect": "encoder's final state seeds the decoder"},
    },
}
