"""Mistakes students plausibly make that nobody listed in mistakes.py: one step's backward pass,
the loop back through time, gradient checking and a truncated-BPTT training loop.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "rnn_cell_backward": {
        "tanh_of_h_again": {
            "find": "da = dh * (1 - h**2)",
            "replace": "da = dh * (1 - np.tanh(h)**2)",
            "expect": "tanh was applied to h again",
            "what": "Wrote tanh' as 1 - np.tanh(h)**2, but the cached h is already tanh(a).",
        },
        "db_mean_over_batch": {
            "find": '"db": da.sum(axis=0)',
            "replace": '"db": da.mean(axis=0)',
            "expect": "a mean instead of a sum",
            "what": "Averaged db over the batch instead of summing it like dW_x and dW_h.",
        },
        "cache_h_and_h_prev_swapped": {
            "find": "x, h_prev, W_x, W_h, b, h = cache",
            "replace": "x, h, W_x, W_h, b, h_prev = cache",
            "expect": "h and h_prev were swapped when reading the cache",
            "what": "Unpacked the cache in the wrong order, swapping the new state h and h_prev.",
        },
    },
    "rnn_backward": {
        "forward_time_loop": {
            "find": "for t in reversed(range(steps)):",
            "replace": "for t in range(steps):",
            "expect": "the loop ran forward in time",
            "what": "Looped forward in time in the backward pass, so each step gets the gradient "
                    "of the step before it instead of the one after it.",
        },
        "cache_off_by_one": {
            "find": "caches[t])",
            "replace": "caches[t - 1])",
            "what": "Backpropagated step t through the cache of step t - 1 (and step 0 through "
                    "the last cache).",
        },
        "dh_seq_updated_in_place": {
            "find": "step = rnn_cell_backward(dh_seq[:, t] + dh_next, caches[t])",
            "replace": "dh_seq[:, t] += dh_next\n"
                       "        step = rnn_cell_backward(dh_seq[:, t], caches[t])",
            "expect": "modified its input `dh_seq` in place",
            "what": "Added the carried gradient into dh_seq in place, changing the caller's "
                    "upstream gradients.",
        },
    },
    "numerical_gradient": {
        "entry_not_restored": {
            "find": "x[index] = original\n        grad",
            "replace": "grad",
            "expect": "x[index] was not put back",
            "what": "Forgot to put x[index] back after the two evaluations, so later entries are "
                    "differentiated at a shifted point.",
        },
        "float32_copy": {
            "find": "x = np.array(x, dtype=np.float64)",
            "replace": "x = np.array(x, dtype=np.float32)",
            "expect": "keep the inputs' dtype, float64; do not cast",
            "what": "Made the working copy float32, where a step of eps = 1e-6 is lost to rounding.",
        },
    },
    "relative_error": {
        "sum_of_maxima": {
            "find": "np.max(np.abs(a) + np.abs(b))",
            "replace": "np.max(np.abs(a)) + np.max(np.abs(b))",
            "expect": "the denominator added the two maxima",
            "what": "Added the largest |a| and the largest |b| instead of taking the largest |a| + |b|.",
        },
        "signed_max": {
            "find": "numerator = np.max(np.abs(a - b))",
            "replace": "numerator = np.max(a - b)",
            "expect": "the largest signed difference was used",
            "what": "Took the largest signed difference instead of the largest absolute one.",
        },
        "cs231n_elementwise": {
            "find": "return float(numerator / denominator)",
            "replace": "return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))",
            "expect": "the largest element-wise ratio",
            "what": "Used the CS231n formula, the largest element-wise ratio, instead of the ratio "
                    "of maxima asked for.",
        },
    },
    "tbptt_epoch": {
        "last_partial_chunk_dropped": {
            "find": "for start in range(0, x.shape[1], chunk_len):",
            "replace": "for start in range(0, x.shape[1] - chunk_len + 1, chunk_len):",
            "expect": "the short last chunk was skipped",
            "what": "Only made full-length chunks, silently skipping the last shorter chunk.",
        },
        "zero_grad_before_step": {
            "find": "        loss.backward()\n        optimizer.step()",
            "replace": "        loss.backward()\n        optimizer.zero_grad()\n        optimizer.step()",
            "expect": "optimizer.zero_grad() runs between backward() and step()",
            "what": "Called optimizer.zero_grad() between backward() and step(), wiping the "
                    "gradients before they are used.",
        },
        "returned_mean_loss": {
            "find": "return losses",
            "replace": "return sum(losses) / len(losses)",
            "expect": "the result is a float, expected 4 values",
            "what": "Returned the mean loss of the epoch instead of the list of per-chunk losses.",
            "uncaught": "any case of the checker: the solution returns a list of 4 floats "
                        "(chunks 3+3+3+1 of T=10), the mistake one float; the check compares only "
                        "the trained parameters",
        },
    },
}
