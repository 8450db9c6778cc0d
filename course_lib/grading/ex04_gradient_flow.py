"""Checks for exercise 04, vanishing and exploding gradients (references:
:mod:`course_lib.gradients`, :mod:`course_lib.backward`).

Parts: ``spectral_radius`` (numpy), ``jacobian_norms``, ``rnn_grad_norms``, ``clip_by_value``,
``clip_by_global_norm`` (PyTorch) and ``classify_regime`` (numpy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import gradients
from ..backward import rnn_forward_cached
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import transpose, with_inputs, with_output

F64 = torch.float64

# --------------------------------------------------------------------------- spectral_radius


def _matrix_with_complex_top_pair(gen: torch.Generator) -> Case:
    """A non-normal 5×5 ``W = P R P⁻¹`` whose largest-modulus eigenvalues are a complex pair.

    ``R`` holds a rotation by θ scaled by ρ (eigenvalues ``ρ e^{±iθ}``) and three real
    eigenvalues below ρ/2 in modulus, the first of them 0.45ρ, so the largest real part (0.45ρ,
    above ``ρ cos θ``) and the largest singular value (> ρ, as ``P`` is not orthogonal) both
    differ clearly from ρ; so does |the eigenvalue with the largest real part|.
    """
    rho = 0.7 + 0.6 * float(torch.rand((), generator=gen, dtype=F64))
    theta = 1.25 + 1.15 * float(torch.rand((), generator=gen, dtype=F64))  # cos θ < 0.32
    R = torch.zeros(5, 5, dtype=F64)
    R[:2, :2] = rho * torch.tensor(
        [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64
    )
    R[2:, 2:] = torch.diag((torch.rand(3, generator=gen, dtype=F64) - 0.5) * rho)
    R[2, 2] = 0.45 * rho
    P = torch.eye(5, dtype=F64) + 0.4 * torch.randn(5, 5, generator=gen, dtype=F64)
    return Case({"W": P @ R @ torch.linalg.inv(P)})


SPECTRAL_RADIUS = (
    Check(
        "a non-normal matrix whose top eigenvalues are complex",
        gradients.spectral_radius,
        _matrix_with_complex_top_pair,
        (
            Variant(
                "you computed the largest singular value (the 2-norm); the spectral radius is "
                "the largest |eigenvalue|, which is smaller for a non-normal matrix",
                gradients.largest_singular_value,
            ),
            Variant(
                "you took the eigenvalue with the largest real part (which is also what max() "
                "of complex numbers picks in numpy); complex eigenvalues count by their "
                "modulus: np.abs(eigenvalues).max()",
                lambda W: float(torch.linalg.eigvals(W).real.max()),
            ),
            Variant(
                "eigvalsh assumes a symmetric matrix and reads one triangle; W is not "
                "symmetric: use np.linalg.eigvals",
                lambda W: float(torch.linalg.eigvalsh(W).abs().max()),
            ),
            Variant(
                "you took the largest |entry| of W, not of its eigenvalues",
                lambda W: float(W.abs().max()),
            ),
        ),
        numpy=True,
    ),
)

# ---------------------------------------------------------------------------- jacobian_norms


def _states_case(gen: torch.Generator) -> Case:
    """W_h (4, 4) with gain ~1.2 and tanh states (3 samples, 6 steps) spread over (-1, 1)."""
    W_h = 1.2 * torch.randn(4, 4, generator=gen, dtype=F64) / 2.0
    h_seq = torch.tanh(torch.randn(3, 6, 4, generator=gen, dtype=F64))
    return Case({"W_h": W_h, "h_seq": h_seq})


def _jacobian_norms(W_h: Tensor, h_seq: Tensor) -> Tensor:
    return gradients.jacobian_norms(W_h, h_seq)


def _products(W_h: Tensor, h_seq: Tensor, *, new_on_left: bool = True, ord: Any = 2) -> Tensor:
    """Norms of the Jacobian products, each new Jacobian multiplied on the left (or, a mistake,
    the right), in the norm ``ord`` (the spectral norm, or a mistaken other one)."""
    batch, steps, hidden = h_seq.shape
    product = torch.eye(hidden, dtype=W_h.dtype, device=W_h.device).expand(batch, hidden, hidden)
    norms = []
    for t in range(steps):
        jacobian = (1 - h_seq[:, t] ** 2).unsqueeze(-1) * W_h.T
        product = jacobian @ product if new_on_left else product @ jacobian
        norms.append(torch.linalg.matrix_norm(product, ord=ord))
    return torch.stack(norms, dim=1)


def _starting_at_identity(norms: Tensor, args: dict[str, Any]) -> Tensor:
    return torch.cat([torch.ones_like(norms[:, :1]), norms[:, :-1]], dim=1)


JACOBIAN_NORMS = (
    Check(
        "‖∂h_t/∂h_0‖ (spectral norm) for every sample and step",
        _jacobian_norms,
        _states_case,
        (
            with_inputs(
                _jacobian_norms,
                "W_h is used untransposed: with row vectors ∂h_t/∂h_(t-1) = diag(1 − h_t²) W_hᵀ",
                W_h=transpose,
            ),
            with_inputs(
                _jacobian_norms,
                "the tanh derivative diag(1 − h_t²) is missing",
                h_seq=torch.zeros_like,
            ),
            with_output(
                _jacobian_norms,
                "off by one in time: the norm was recorded before "
                "multiplying by step t's Jacobian (entry [b, 0] must already include "
                "J_1)",
                _starting_at_identity,
            ),
            Variant(
                "the Jacobians were multiplied in the wrong order: ∂h_t/∂h_0 = J_t ⋯ J_1, so "
                "each new J_t goes on the left, product = J_t @ product",
                lambda W_h, h_seq: _products(W_h, h_seq, new_on_left=False),
            ),
            Variant(
                "the Frobenius norm (matrix_norm's default) was taken; this part asks for the "
                "spectral norm, matrix_norm(P, ord=2)",
                lambda W_h, h_seq: _products(W_h, h_seq, ord="fro"),
            ),
        ),
    ),
)

# ---------------------------------------------------------------------------- rnn_grad_norms


def _grad_norms(x: Tensor, W_x: Tensor, W_h: Tensor, *, every_step: bool = False) -> Tensor:
    """``‖∂L/∂h_t‖`` for a tanh RNN from ``h_0 = 0`` with ``L = sum(h_T)`` (or the sum of every
    state when ``every_step``, a mistake)."""
    h0 = torch.zeros(x.shape[0], W_h.shape[0], dtype=x.dtype, device=x.device, requires_grad=True)
    h_seq, caches = rnn_forward_cached(x, h0, W_x, W_h)
    loss = h_seq.sum() if every_step else h_seq[:, -1].sum()
    return gradients.grad_norms_through_time([c.h for c in caches], loss)


def _rnn_case(gen: torch.Generator) -> Case:
    """2 samples, 7 steps, 3 inputs, 5 units; W_h scaled so that norms visibly change."""
    x = torch.randn(2, 7, 3, generator=gen, dtype=F64)
    W_x = torch.randn(3, 5, generator=gen, dtype=F64) / 2
    W_h = 1.5 * torch.randn(5, 5, generator=gen, dtype=F64) / math.sqrt(5)
    return Case({"x": x, "W_x": W_x, "W_h": W_h})


def _direct_only(norms: Tensor, args: dict[str, Any]) -> Tensor:
    return torch.cat([torch.zeros_like(norms[:-1]), norms[-1:]])


RNN_GRAD_NORMS = (
    Check(
        "‖∂L/∂h_t‖ for L = sum(h_T), every step t = 1..T",
        _grad_norms,
        _rnn_case,
        (
            with_output(
                _grad_norms,
                "the gradient was taken with respect to the stacked states "
                "(torch.stack(...)), which only receives the direct gradient: ask for "
                "the gradient of each h_t that the next step consumed",
                _direct_only,
            ),
            Variant(
                "the loss summed every state (h_1 + … + h_T); here L = sum(h_T), the last "
                "state only",
                lambda x, W_x, W_h: _grad_norms(x, W_x, W_h, every_step=True),
            ),
        ),
    ),
)

# ----------------------------------------------------------------------------- clip_by_value


def _draw(value: float | tuple[float, float], gen: torch.Generator) -> float:
    """``value``, or for a ``(low, high)`` range a number drawn uniformly from it (3 decimals)."""
    if not isinstance(value, tuple):
        return value
    low, high = value
    return round(low + (high - low) * float(torch.rand((), generator=gen, dtype=F64)), 3)


def _grads_case(scale: float, **options: float | tuple[float, float]):
    """Two gradient tensors (3, 4) and (5,) with entries of typical size ``scale``; an option
    given as ``(low, high)`` is drawn uniformly from that range, so no one value can be
    hard-coded."""

    def make(gen: torch.Generator) -> Case:
        grads = [
            scale * torch.randn(3, 4, generator=gen, dtype=F64),
            scale * torch.randn(5, generator=gen, dtype=F64),
        ]
        return Case({"grads": grads}, {name: _draw(value, gen) for name, value in options.items()})

    return make


def _clip_value(grads: list[Tensor], clip_value: float) -> list[Tensor]:
    return gradients.clip_by_value(grads, clip_value)


CLIP_BY_VALUE = (
    Check(
        "entries beyond ±clip_value, in both directions",
        _clip_value,
        _grads_case(2.0, clip_value=(0.4, 1.6)),
        (
            Variant(
                "only large positive entries were clipped: clip to [-clip_value, clip_value]",
                lambda grads, clip_value: [g.clamp(max=clip_value) for g in grads],
            ),
            Variant(
                "the gradients were scaled by their norm: that is clipping by norm; by value "
                "clamps each entry separately",
                lambda grads, clip_value: gradients.clip_by_global_norm(grads, clip_value)[0],
            ),
            with_inputs(
                _clip_value,
                "the range was hard-coded as [-1, 1]: clip to [-clip_value, "
                "clip_value], the argument",
                clip_value=1.0,
            ),
        ),
    ),
)

# ------------------------------------------------------------------------ clip_by_global_norm


def _clip_norm(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], Tensor]:
    return gradients.clip_by_global_norm(grads, max_norm)


def _part(index: int):
    """Observe one item of the ``(clipped, total_norm)`` pair; anything else is compared whole."""

    def observe(case: Case, result: Any) -> Any:
        ok = isinstance(result, (tuple, list)) and len(result) == 2
        return result[index] if ok else result

    return observe


def _each_by_own_norm(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], Tensor]:
    clipped = [gradients.clip_by_global_norm([g], max_norm)[0][0] for g in grads]
    return clipped, gradients.clip_by_global_norm(grads, max_norm)[1]


def _norm_after(out: tuple[list[Tensor], Tensor], args: dict[str, Any]) -> tuple:
    return out[0], torch.linalg.vector_norm(torch.cat([g.flatten() for g in out[0]]))


def _scaled_up(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], Tensor]:
    total = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
    return [g * max_norm / (total + 1e-6) for g in grads], total


def _clipped_with(
    total: Tensor, grads: list[Tensor], max_norm: float, scale_to: float | None = None
) -> tuple[list[Tensor], Tensor]:
    factor = torch.clamp((max_norm if scale_to is None else scale_to) / (total + 1e-6), max=1.0)
    return [g * factor for g in grads], total


def _sum_of_norms(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], Tensor]:
    return _clipped_with(sum(torch.linalg.vector_norm(g) for g in grads), grads, max_norm)


def _to_unit_norm(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], Tensor]:
    total = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
    return _clipped_with(total, grads, max_norm, scale_to=1.0)


_NORM_VARIANTS = (
    Variant(
        "each gradient was clipped by its own norm; clip_grad_norm_ scales all of them by "
        "one factor computed from their joint (global) norm",
        _each_by_own_norm,
    ),
    with_output(
        _clip_norm,
        "you returned the norm after clipping; clip_grad_norm_ returns the "
        "total norm before clipping",
        _norm_after,
    ),
    Variant(
        "gradients were scaled *up* to max_norm; the factor is min(max_norm / (norm + 1e-6), "
        "1), so small gradients stay unchanged",
        _scaled_up,
    ),
    Variant(
        "the per-tensor norms were added up; the global norm is the 2-norm of all entries "
        "together, sqrt(sum of squared norms)",
        _sum_of_norms,
    ),
    Variant(
        "the gradients were scaled to norm 1 instead of max_norm: the factor is "
        "max_norm / (norm + 1e-6)",
        _to_unit_norm,
    ),
)
CLIP_BY_GLOBAL_NORM = (
    Check(
        "clipped gradients when the global norm exceeds max_norm",
        _clip_norm,
        _grads_case(2.0, max_norm=(0.5, 3.0)),
        _NORM_VARIANTS,
        observe=_part(0),
    ),
    Check(
        "clipped gradients when the global norm is below max_norm (unchanged)",
        _clip_norm,
        _grads_case(0.1, max_norm=5.0),
        _NORM_VARIANTS,
        observe=_part(0),
    ),
    Check(
        "the returned total norm, as clip_grad_norm_ returns it",
        _clip_norm,
        _grads_case(2.0, max_norm=(0.5, 3.0)),
        _NORM_VARIANTS,
        observe=_part(1),
    ),
)

# --------------------------------------------------------------------------- classify_regime


def _norms_case(factor: float, noisy_ends: bool = False):
    """30 norms growing by ``factor`` per step with 2 % noise; with ``noisy_ends`` the first is
    3× too large and the last 3× too small (a slope from the two ends alone says "vanishing")."""

    def make(gen: torch.Generator) -> Case:
        steps = torch.arange(30, dtype=F64)
        noise = 0.02 * torch.randn(30, generator=gen, dtype=F64)
        norms = torch.exp(steps * math.log(factor) + noise)
        if noisy_ends:
            norms[0] *= 3.0
            norms[-1] /= 3.0
        return Case({"norms": norms})

    return make


def _from_the_ends(norms: Tensor) -> str:
    slope = math.log(float(norms[-1]) / float(norms[0])) / (len(norms) - 1)
    return "vanishing" if slope < -0.05 else "exploding" if slope > 0.05 else "stable"


def _regime(slope: float) -> str:
    return "vanishing" if slope < -0.05 else "exploding" if slope > 0.05 else "stable"


def _no_log(norms: Tensor) -> str:
    return _regime(float(np.polyfit(np.arange(len(norms)), norms.cpu().numpy(), deg=1)[0]))


def _fitted(norms: Tensor, *, log: Any = np.log, coefficient: int = 0) -> str:
    values = log(norms.cpu().numpy())
    return _regime(float(np.polyfit(np.arange(len(norms)), values, deg=1)[coefficient]))


_REGIME_VARIANTS = (
    Variant(
        "you compared only the first and last norms; fit a line to all log-norms (np.polyfit)"
        " so that one noisy step does not decide",
        _from_the_ends,
    ),
    with_inputs(
        gradients.classify_regime,
        "vanishing and exploding are swapped: norms[k] is the "
        "norm after k steps, so shrinking norms (negative slope) mean vanishing",
        norms=lambda n: n.flip(0),
    ),
    Variant(
        "the line was fitted to the norms themselves; fit it to their logarithms (the slope "
        "of log-norms is the log of the growth factor per step)",
        _no_log,
    ),
    Variant(
        "np.polyfit returns [slope, intercept]: the intercept, [1], was read as the slope; "
        "take [0]",
        lambda norms: _fitted(norms, coefficient=1),
    ),
    Variant(
        "the slope of log10 of the norms was compared with ±0.05, a threshold for the "
        "natural log: use np.log",
        lambda norms: _fitted(norms, log=np.log10),
    ),
)
CLASSIFY_REGIME = (
    Check(
        "norms shrinking by 0.8 per step",
        gradients.classify_regime,
        _norms_case(0.8),
        _REGIME_VARIANTS,
        numpy=True,
    ),
    Check(
        "norms growing by 1.15 per step",
        gradients.classify_regime,
        _norms_case(1.15),
        _REGIME_VARIANTS,
        numpy=True,
    ),
    # Near the threshold (|slope| 0.07–0.1 per step in natural log): a slope in another log
    # base, or a threshold other than the stated 0.05, gives the wrong regime here.
    Check(
        "norms growing by 1.1 per step (close to the threshold)",
        gradients.classify_regime,
        _norms_case(1.1),
        _REGIME_VARIANTS,
        numpy=True,
    ),
    Check(
        "norms shrinking by 0.93 per step (close to the threshold)",
        gradients.classify_regime,
        _norms_case(0.93),
        _REGIME_VARIANTS,
        numpy=True,
    ),
    Check(
        "steady norms with noisy first and last steps",
        gradients.classify_regime,
        _norms_case(1.0, noisy_ends=True),
        _REGIME_VARIANTS,
        numpy=True,
    ),
)

ASSIGNMENT = Assignment(
    "04_gradient_flow",
    {
        "spectral_radius": SPECTRAL_RADIUS,
        "jacobian_norms": JACOBIAN_NORMS,
        "rnn_grad_norms": RNN_GRAD_NORMS,
        "clip_by_value": CLIP_BY_VALUE,
        "clip_by_global_norm": CLIP_BY_GLOBAL_NORM,
        "classify_regime": CLASSIFY_REGIME,
    },
)
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
