"""Plausible mistakes per graded part, injected into the solution by tests/test_exercises.py.

For each part, mistake "A" and mistake "B" replace ``find`` with ``replace`` in that part's
solution cell; grading must then take points off that part and its feedback must contain
``expect``. Never released to students (nbgrader_config.py ignores this file).
"""

MISTAKES = {
    "spectral_radius": {
        "A": {"find": "return float(np.abs(np.linalg.eigvals(W)).max())",
              "replace": "return float(np.linalg.norm(W, 2))",
              "expect": "largest singular value"},
        "B": {"find": "np.abs(np.linalg.eigvals(W)).max()",
              "replace": "np.linalg.eigvals(W).real.max()",
              "expect": "largest real part"},
    },
    "jacobian_norms": {
        "A": {"find": "* W_h.T  #", "replace": "* W_h  #", "expect": "W_h is used untransposed"},
        "B": {"find": "(1 - h_seq[:, t] ** 2).unsqueeze(-1) * W_h.T",
              "replace": "W_h.T.expand(batch, hidden, hidden)",
              "expect": "tanh derivative"},
    },
    "rnn_grad_norms": {
        "A": {"find": "grads = torch.autograd.grad(h.sum(), states)",
              "replace": "stacked = torch.stack(states, dim=1)\n"
                         "    grads = torch.autograd.grad(stacked[:, -1].sum(), stacked)[0]"
                         ".unbind(1)",
              "expect": "stacked states"},
        "B": {"find": "torch.autograd.grad(h.sum(), states)",
              "replace": "torch.autograd.grad(sum(s.sum() for s in states), states)",
              "expect": "the loss summed every state"},
    },
    "clip_by_value": {
        "A": {"find": "torch.clamp(g, -clip_value, clip_value)",
              "replace": "torch.clamp(g, max=clip_value)",
              "expect": "only large positive entries were clipped"},
        "B": {"find": "return [torch.clamp(g, -clip_value, clip_value) for g in grads]",
              "replace": "return [g.clamp_(-clip_value, clip_value) for g in grads]",
              "expect": "modified its input `grads` in place"},
    },
    "clip_by_global_norm": {
        "A": {"find": "return [g * factor for g in grads], total_norm",
              "replace": "return [g * torch.clamp(max_norm / (torch.linalg.vector_norm(g) + 1e-6),"
                         " max=1.0) for g in grads], total_norm",
              "expect": "clipped by its own norm"},
        "B": {"find": "return [g * factor for g in grads], total_norm",
              "replace": "return [g * factor for g in grads], total_norm * factor",
              "expect": "the norm after clipping"},
    },
    "classify_regime": {
        "A": {"find": "slope = np.polyfit(np.arange(len(norms)), np.log(norms), deg=1)[0]",
              "replace": "slope = np.log(norms[-1] / norms[0]) / (len(norms) - 1)",
              "expect": "only the first and last norms"},
        "B": {"find": "np.log(norms), deg=1)", "replace": "norms, deg=1)",
              "expect": "fitted to the norms themselves"},
    },
}
