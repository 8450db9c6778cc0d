"""Mistakes students plausibly make that nobody listed in mistakes.py: spectral radius, products
of Jacobians, gradient norms through time, the two kinds of clipping and reading the regime.

Each entry replaces ``find`` (text that occurs once in the part's solution cell) by ``replace``;
``what`` says, in the student's terms, what went wrong. An entry with ``uncaught`` is one the
checker does not catch; its value is an input on which the result really differs.
"""

MISTAKES = {
    "spectral_radius": {
        "abs_of_complex_max": {
            "find": "np.abs(np.linalg.eigvals(W)).max()",
            "replace": "np.abs(np.linalg.eigvals(W).max())",
            "expect": "the eigenvalue with the largest real part",
            "what": "Took the max of the complex eigenvalues before the modulus; numpy orders "
                    "complex numbers by real part, so this is |eigenvalue with largest real part|.",
        },
        "eigvalsh_on_nonsymmetric": {
            "find": "np.linalg.eigvals(W)",
            "replace": "np.linalg.eigvalsh(W)",
            "expect": "eigvalsh assumes a symmetric matrix",
            "what": "Used eigvalsh, which assumes W is symmetric and reads only one triangle.",
        },
    },
    "jacobian_norms": {
        "product_order_reversed": {
            "find": "product = jacobian @ product",
            "replace": "product = product @ jacobian",
            "expect": "the Jacobians were multiplied in the wrong order",
            "what": "Multiplied each new Jacobian on the right, building J_1 ... J_t instead of "
                    "J_t ... J_1.",
        },
        "frobenius_norm": {
            "find": "torch.linalg.matrix_norm(product, ord=2)",
            "replace": "torch.linalg.matrix_norm(product)",
            "expect": "the Frobenius norm",
            "what": "Left matrix_norm at its default, the Frobenius norm, instead of the spectral "
                    "norm ord=2.",
        },
    },
    "rnn_grad_norms": {
        "reversed_order": {
            "find": "for g in grads])",
            "replace": "for g in grads][::-1])",
            "expect": "reversed along the time axis",
            "what": "Returned the norms in backprop order (from T down to 1) instead of time order.",
        },
        "pre_activation_gradients": {
            "find": "        h = torch.tanh(x[:, t] @ W_x + h @ W_h)\n        states.append(h)",
            "replace": "        a = x[:, t] @ W_x + h @ W_h\n        h = torch.tanh(a)\n"
                       "        states.append(a)",
            "what": "Kept the pre-activations a_t instead of the states, so the norms are of "
                    "dL/da_t, not dL/dh_t.",
        },
    },
    "clip_by_value": {
        "clamped_magnitude": {
            "find": "torch.clamp(g, -clip_value, clip_value)",
            "replace": "torch.clamp(g.abs(), max=clip_value)",
            "expect": "has lost its signs",
            "what": "Clipped the magnitudes and lost the signs of the entries.",
        },
        "hardcoded_unit_range": {
            "find": "torch.clamp(g, -clip_value, clip_value)",
            "replace": "torch.clamp(g, -1.0, 1.0)",
            "expect": "the range was hard-coded as [-1, 1]",
            "what": "Copied the worked example's range [-1, 1] into the code instead of using "
                    "clip_value.",
            "uncaught": "grads = [torch.tensor([-3.0, 0.2, 2.0], dtype=torch.float64)], "
                        "clip_value = 0.5: the solution gives [-0.5, 0.2, 0.5], the mistake "
                        "[-1.0, 0.2, 1.0]; the checker and the worked example only use "
                        "clip_value = 1.0",
        },
    },
    "clip_by_global_norm": {
        "sum_of_norms": {
            "find": "torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))",
            "replace": "sum(torch.linalg.vector_norm(g) for g in grads)",
            "expect": "the per-tensor norms were added up",
            "what": "Added up the per-tensor norms instead of taking the 2-norm of all entries.",
        },
        "normalised_to_unit_norm": {
            "find": "max_norm / (total_norm + 1e-6)",
            "replace": "1.0 / (total_norm + 1e-6)",
            "expect": "scaled to norm 1 instead of max_norm",
            "what": "Divided by the norm without multiplying by max_norm, rescaling large "
                    "gradients to norm 1 instead of max_norm.",
            "uncaught": "grads = [torch.full((4,), 5.0, dtype=torch.float64)] (norm 10), "
                        "max_norm = 5.0: the solution scales by 0.5, the mistake by 0.1; the "
                        "checker clips only with max_norm = 1.0, where the two agree",
        },
        "clamp_min_instead_of_max": {
            "find": "max=1.0)",
            "replace": "min=1.0)",
            "expect": "the result[0] equals the input `grads[0]`, unchanged",
            "what": "Clamped the factor from below (min=1) instead of above, so large gradients "
                    "are not clipped and small ones are scaled up.",
        },
    },
    "classify_regime": {
        "intercept_not_slope": {
            "find": "deg=1)[0]",
            "replace": "deg=1)[1]",
            "expect": "the intercept, [1], was read as the slope",
            "what": "Took polyfit's second coefficient, the intercept, as the slope.",
        },
        "log10": {
            "find": "np.log(norms)",
            "replace": "np.log10(norms)",
            "expect": "log10 of the norms",
            "what": "Fitted log10 of the norms, so the slope is log10 of the growth factor and "
                    "the +/-0.05 thresholds (meant for the natural log) are off by 2.3x.",
            "uncaught": "norms = 1.1 ** np.arange(30): the natural-log slope is 0.095 "
                        "('exploding'), the log10 slope 0.041 ('stable'); the checker's factors "
                        "0.8 and 1.15 stay beyond +/-0.05 in both bases",
        },
    },
}
