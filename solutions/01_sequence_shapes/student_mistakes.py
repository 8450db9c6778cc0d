"""Mistakes students plausibly make that nobody listed in mistakes.py: padding, masks, gathering
the last real step, batch-first to time-major and the output each RNN pattern uses.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "pad_sequences": {
        "int32_like_keras": {
            "find": "dtype=sequences[0].dtype",
            "replace": 'dtype="int32"',
            "expect": "has dtype int32, expected float64",
            "what": "Copied Keras's default dtype='int32', so the padded float features are "
                    "truncated to integers.",
        },
        "maxlen_from_first_sequence": {
            "find": "maxlen = max(len(seq) for seq in sequences)",
            "replace": "maxlen = len(sequences[0])",
            "expect": "T was taken from the first sequence",
            "what": "Took T from the first sequence instead of the longest one.",
        },
        "truncate_by_len_minus_maxlen": {
            "find": "kept = seq[-maxlen:] if",
            "replace": "kept = seq[len(seq) - maxlen:] if",
            "what": "Wrote the pre-truncation as seq[len(seq) - maxlen:], which goes negative for "
                    "sequences shorter than maxlen and keeps only their tail.",
        },
    },
    "lengths_to_mask": {
        "float_mask": {
            "find": "return steps[None, :] < lengths[:, None]",
            "replace": "return (steps[None, :] < lengths[:, None]).float()",
            "expect": "a mask is True/False",
            "what": "Returned the mask as floats (1.0/0.0) instead of a bool tensor.",
        },
        "max_len_ignored": {
            "find": "    if max_len is None:\n        max_len = int(lengths.max())",
            "replace": "    max_len = int(lengths.max())",
            "expect": "max_len was ignored",
            "what": "Always used the longest length as T, ignoring the max_len argument.",
        },
        "mask_time_by_batch": {
            "find": "steps[None, :] < lengths[:, None]",
            "replace": "steps[:, None] < lengths[None, :]",
            "expect": "axes 0, 1 look swapped",
            "what": "Put the broadcast axes the other way round and built a (T, B) mask instead "
                    "of (B, T).",
        },
    },
    "last_valid_step": {
        "no_batch_index": {
            "find": "outputs[batch, lengths - 1]",
            "replace": "outputs[:, lengths - 1]",
            "expect": "index both axes, outputs[torch.arange(B), lengths - 1]",
            "what": "Indexed time with lengths - 1 but took every batch row with `:`, which gives "
                    "a (B, B, H) block instead of one step per sample.",
        },
        "indices_swapped": {
            "find": "outputs[batch, lengths - 1]",
            "replace": "outputs[lengths - 1, batch]",
            "expect": "an index on the wrong axis",
            "what": "Put the time indices on the batch axis and the batch indices on the time "
                    "axis (time-major habit).",
        },
    },
    "to_time_major": {
        "dot_T": {
            "find": "return x.transpose(0, 1)",
            "replace": "return x.T",
            "expect": "which is what .T does to more than two axes",
            "what": "Used x.T, which reverses every axis of a 3-D or 4-D tensor, not just the "
                    "first two.",
        },
        "hardcoded_3d_permute": {
            "find": "return x.transpose(0, 1)",
            "replace": "return x.permute(1, 0, 2)",
            "expect": "swap only the first two, x.transpose(0, 1)",
            "what": "Hard-coded permute(1, 0, 2), which only works for 3-D (B, T, D) inputs.",
        },
    },
    "pattern_output": {
        "one_to_one_all": {
            "find": '"one-to-one": "last"',
            "replace": '"one-to-one": "all"',
            "expect": "one-to-one has a single step",
            "what": "Answered 'all' for one-to-one because its single output is all there is.",
        },
    },
}
