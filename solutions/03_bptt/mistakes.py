"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "rnn_cell_backward": {
        "A": {"find": "da = dh * (1 - h**2)", "replace": "da = dh",
              "expect": "the tanh derivative is missing"},
        "B": {"find": '"dh_prev": da @ W_h.T,', "replace": '"dh_prev": da @ W_h,',
              "expect": "dh_prev must be da @ W_h.T"},
    },
    "rnn_backward": {
        "A": {"find": "rnn_cell_backward(dh_seq[:, t] + dh_next, caches[t])",
              "replace": "rnn_cell_backward(dh_seq[:, t], caches[t])",
              "expect": "the gradient from the next step is not added"},
        "B": {"find": "grads[key] += step[key]", "replace": "grads[key] = step[key]",
              "expect": "not summed over time"},
    },
    "numerical_gradient": {
        "A": {"find": "/ (2 * eps)", "replace": "/ eps",
              "expect": "divided by eps instead of 2·eps"},
        "B": {"find": "grad[index] = (f_plus - f_minus) / (2 * eps)",
              "replace": "grad[index] = (f_plus - f(x)) / eps",
              "expect": "one-sided difference"},
    },
    "relative_error": {
        "A": {"find": "numerator = np.max(np.abs(a - b))",
              "replace": "numerator = np.mean(np.abs(a - b))",
              "expect": "the mean difference was used"},
        "B": {"find": "np.max(np.abs(a) + np.abs(b))", "replace": "np.max(np.abs(a))",
              "expect": "divided by max |a| only"},
    },
    "tbptt_epoch": {
        "A": {"find": "state = state.detach()", "replace": "state = state",
              "expect": "detach it"},
        "B": {"find": "optimizer.zero_grad()", "replace": "pass",
              "expect": "optimizer.zero_grad() is missing"},
    },
}
