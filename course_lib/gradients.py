"""Tools for looking at gradients: clipping, numerical checks, and gradient flow through time.

* Clipping by value and by global norm, with exactly the semantics of
  ``torch.nn.utils.clip_grad_value_`` / ``clip_grad_norm_`` when given parameters, and a
  functional form (copies, numpy in → numpy out) when given plain tensors or arrays.
* Gradient checking: centred differences in float64 and the relative error between two gradients.
* Gradient flow (chapter 4): ``‖∂L/∂h_t‖`` through autograd, the norms of the Jacobian products
  ``∂h_t/∂h_0`` of a tanh RNN, the spectral radius, and a rule that names the regime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from .checks import check_args
from .device import numpy_io, to_numpy
from .shapes import require

Array = Tensor | np.ndarray

# ---------------------------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------------------------


def _parameters_or_values(grads: Any) -> tuple[list[nn.Parameter] | None, list[Any]]:
    """Split the two calling conventions of the clipping functions.

    Returns ``(parameters, [])`` when ``grads`` is an ``nn.Parameter`` or an iterable of them
    (e.g. ``model.parameters()``; an empty iterable counts as parameters, as in torch), and
    ``(None, values)`` when it is a tensor/array or an iterable of plain tensors/arrays.
    """
    require("given", grads=grads)
    if isinstance(grads, nn.Parameter):
        return [grads], []
    if isinstance(grads, (Tensor, np.ndarray)):
        return None, [grads]
    items = list(grads)
    n_params = sum(isinstance(item, nn.Parameter) for item in items)
    if n_params == len(items):
        return items, []
    if n_params:
        raise TypeError(
            "grads mixes nn.Parameter objects (clipped in place on .grad) with plain "
            "tensors/arrays (clipped copies are returned); pass one kind"
        )
    return None, items


def _check_values(values: Sequence[Tensor]) -> None:
    for k, value in enumerate(values):
        require("given", **{f"grads[{k}]": value})
        check_args(**{f"grads[{k}]": (value, None)})


@numpy_io
def _clipped_by_value(values: list[Tensor], clip_value: float) -> list[Tensor]:
    _check_values(values)
    return [value.clamp(-clip_value, clip_value) for value in values]


def clip_by_value(grads: Any, clip_value: float) -> Any:
    """Clip every gradient element to ``[-clip_value, clip_value]``.

    Args:
        grads: either parameters — an ``nn.Parameter`` or an iterable of them such as
            ``model.parameters()`` — whose ``.grad`` is clipped **in place** (parameters whose
            grad is None are skipped), exactly like ``torch.nn.utils.clip_grad_value_``;
            or a tensor/array, or a list of them, of which clipped **copies** are returned
            (numpy in → numpy out).
        clip_value: the bound, ``>= 0``.

    Returns:
        None for parameters; otherwise the clipped copy (or list of copies).
    """
    require("real", minimum=0, clip_value=clip_value)
    parameters, values = _parameters_or_values(grads)
    if parameters is not None:
        with torch.no_grad():
            for p in parameters:
                if p.grad is not None:
                    p.grad.clamp_(-clip_value, clip_value)
        return None
    clipped = _clipped_by_value(values, float(clip_value))
    return clipped[0] if isinstance(grads, (Tensor, np.ndarray)) else clipped


def _total_norm(tensors: list[Tensor], norm_type: float) -> Tensor:
    """The norm of all tensors seen as one long vector: the ``norm_type`` norm of their norms.

    Mirrors ``torch.nn.utils.get_total_norm``, including ``tensor(0.)`` for an empty list and
    the result living on the first tensor's device.
    """
    if not tensors:
        return torch.tensor(0.0)
    device = tensors[0].device
    norms = [torch.linalg.vector_norm(t, norm_type).to(device) for t in tensors]
    return torch.linalg.vector_norm(torch.stack(norms), norm_type)


def _clip_coefficient(total_norm: Tensor, max_norm: float) -> Tensor:
    """``min(max_norm / (total_norm + 1e-6), 1)``, torch's rule.

    The ``1e-6`` keeps the ratio finite when every gradient is zero; the clamp at 1 means
    clipping only ever scales gradients down. It stays a tensor (no ``if``), so no GPU sync.
    """
    return torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)


def _check_total_norm(total: Tensor, norm_type: float, error_if_nonfinite: bool) -> None:
    """torch's ``error_if_nonfinite``: refuse to scale by a NaN or infinite norm (which would
    make every gradient NaN or zero) when asked to; the check syncs with the GPU, so only then."""
    if error_if_nonfinite and not bool(torch.isfinite(total)):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {float(total)}, so they "
            "cannot be clipped; find where the NaN or inf comes from, or pass "
            "error_if_nonfinite=False to scale by it anyway"
        )


@numpy_io
def _clipped_by_norm(
    values: list[Tensor], max_norm: float, norm_type: float, error_if_nonfinite: bool
) -> tuple[list[Tensor], Tensor]:
    _check_values(values)
    total = _total_norm(values, norm_type)
    _check_total_norm(total, norm_type, error_if_nonfinite)
    coefficient = _clip_coefficient(total, max_norm)
    return [value * coefficient.to(value.device) for value in values], total


def _norm_order(norm_type: float | str) -> float:
    """``norm_type`` as a float ``p > 0``: a number, or a string such as ``"inf"`` or ``"2"``."""
    message = f"norm_type must be a number p > 0 or 'inf', got {norm_type!r}"
    if isinstance(norm_type, str):
        try:
            norm_type = float(norm_type)
        except ValueError:
            raise ValueError(message) from None
    require("real", norm_type=norm_type)
    if not float(norm_type) > 0:
        raise ValueError(message)
    return float(norm_type)


def clip_by_global_norm(
    grads: Any,
    max_norm: float,
    norm_type: float | str = 2.0,
    *,
    error_if_nonfinite: bool = False,
) -> Tensor | tuple[Any, Any]:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    With ``N = ‖(g_1, …, g_n)‖_p`` (all gradients seen as one vector; ``p = inf`` is the largest
    absolute value), every gradient is multiplied by ``min(max_norm / (N + 1e-6), 1)``. The
    direction of the joint gradient is kept, unlike clipping by value.

    Args:
        grads: either parameters (an ``nn.Parameter`` or an iterable such as
            ``model.parameters()``), whose ``.grad`` is scaled **in place**, skipping grads that
            are None — the same result and return value as ``torch.nn.utils.clip_grad_norm_``;
            or a list of tensors/arrays (or one), of which scaled **copies** are returned.
        max_norm: the largest allowed joint norm.
        norm_type: ``p`` of the norm: 2 (default), ``float("inf")`` or ``"inf"``, or any ``p > 0``.
        error_if_nonfinite: raise ``RuntimeError`` when the total norm is NaN or infinite,
            before anything is scaled (as torch); by default such a norm is used as it is.

    Returns:
        For parameters: the total norm *before* clipping, a 0-d tensor (as torch returns).
        Otherwise ``(clipped, total_norm)``: the scaled copies (a list, or one value if one was
        given) and the total norm before clipping (a 0-d array for numpy input).
    """
    norm_type = _norm_order(norm_type)
    require("real", minimum=0, max_norm=max_norm)
    parameters, values = _parameters_or_values(grads)
    if parameters is not None:
        with torch.no_grad():
            present = [p.grad for p in parameters if p.grad is not None]
            total = _total_norm(present, norm_type)
            _check_total_norm(total, norm_type, error_if_nonfinite)
            coefficient = _clip_coefficient(total, float(max_norm))
            for grad in present:
                grad.mul_(coefficient.to(grad.device))
        return total
    clipped, total = _clipped_by_norm(values, float(max_norm), norm_type, error_if_nonfinite)
    return (clipped[0] if isinstance(grads, (Tensor, np.ndarray)) else clipped), total


# ---------------------------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------------------------


def _float64_copy(value: Array) -> Array:
    """A contiguous float64 copy of a tensor (same device, detached) or of a numpy array."""
    # C-contiguous on purpose: numerical_gradient edits the copy through a flat view.
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=np.float64, order="C", copy=True)
    check_args(x=(value, None))
    return value.detach().to(torch.float64).clone(memory_format=torch.contiguous_format)


def numerical_gradient(f: Callable[[Any], Any], x: Array, eps: float = 1e-6) -> Array:
    """Gradient of a scalar function by centred differences, in float64.

    For every element ``x_i``: ``∂f/∂x_i ≈ (f(x + eps·e_i) − f(x − eps·e_i)) / (2·eps)``, whose
    error is ``O(eps²)`` (a one-sided difference would be ``O(eps)``). float64 matters: with
    float32 the rounding error of ``f``, about ``1e-7 / eps``, swamps the estimate.

    Args:
        f: maps an array like ``x`` (same type and shape, float64) to a scalar (float, 0-d
            tensor or array, or any one-element tensor/array).
        x: the point, a tensor (any device) or a numpy array; it is not modified.
        eps: the step.

    Returns:
        ``∂f/∂x`` with the shape and type of ``x``, in float64.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable scalar function of x, got {f!r}")
    require("given", x=x)
    require("real", eps=eps)
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (the finite-difference step), got {eps}")
    point = _float64_copy(x)
    grad = np.zeros_like(point) if isinstance(point, np.ndarray) else torch.zeros_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)  # views, so edits reach `point`
    for i in range(flat_point.shape[0]):
        original = float(flat_point[i])
        flat_point[i] = original + eps
        f_plus = _scalar(f(point))
        flat_point[i] = original - eps
        f_minus = _scalar(f(point))
        flat_point[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _scalar(value: Any) -> float:
    size = value.numel() if isinstance(value, Tensor) else np.size(value)
    if size != 1:
        raise ValueError(f"f must return a scalar, got a value with {size} elements")
    return float(value.item() if isinstance(value, (Tensor, np.ndarray)) else value)


def _as_float64_cpu(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def relative_error(a: Any, b: Any) -> float:
    """``max |a − b| / max(max(|a| + |b|), tiny)``: the worst elementwise difference, relative to
    the largest magnitude present.

    Scale-free, so one threshold works for every layer: in float64, below about ``1e-7`` a
    gradient is right, above ``1e-3`` it is almost surely wrong. ``tiny`` (the smallest positive
    float64) only avoids ``0/0`` when both are all zeros, which gives 0.

    Args:
        a, b: tensors (any device), arrays or numbers of the same shape.
    """
    require("given", a=a, b=b)  # np.asarray(None, float64) would be a silent NaN
    a64, b64 = _as_float64_cpu(a), _as_float64_cpu(b)
    if a64.shape != b64.shape:
        raise ValueError(f"a has shape {tuple(a64.shape)} but b has shape {tuple(b64.shape)}")
    if a64.numel() == 0:
        return 0.0
    scale = (a64.abs() + b64.abs()).max().clamp_min(torch.finfo(torch.float64).tiny)
    return float((a64 - b64).abs().max() / scale)


def gradient_check(
    f: Callable[..., Any],
    inputs: Mapping[str, Array],
    analytic: Mapping[str, Array] | None = None,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Compare gradients of ``f(**inputs)`` with centred differences, one input at a time.

    Args:
        f: a scalar function of the named inputs.
        inputs: name → tensor or array; all are cast to float64 copies first.
        analytic: name → the gradient to check (e.g. from a hand-written backward pass). Only
            these inputs are checked; the others are held fixed. If None, every input is
            checked against **autograd** (then ``f`` must be written in torch).
        eps: the finite-difference step.

    Returns:
        name → :func:`relative_error` between the analytic (or autograd) and numerical gradient.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable scalar function of the inputs, got {f!r}")
    require("given", inputs=inputs)
    point = {name: _float64_copy(value) for name, value in inputs.items()}
    if analytic is None:
        if not all(isinstance(v, Tensor) for v in point.values()):
            raise TypeError("checking against autograd needs torch tensors; pass analytic=...")
        leaves = {name: value.clone().requires_grad_(True) for name, value in point.items()}
        found = torch.autograd.grad(f(**leaves), list(leaves.values()), allow_unused=True)
        analytic = {
            name: torch.zeros_like(leaf) if grad is None else grad
            for (name, leaf), grad in zip(leaves.items(), found, strict=True)
        }
    unknown = set(analytic) - set(point)
    if unknown:
        raise ValueError(f"analytic has gradients for {sorted(unknown)}, which are not inputs")

    def along(name: str) -> Callable[[Any], Any]:
        return lambda value: f(**{**point, name: value})

    return {
        name: relative_error(grad, numerical_gradient(along(name), point[name], eps))
        for name, grad in analytic.items()
    }


# ---------------------------------------------------------------------------------------------
# Gradient flow through time
# ---------------------------------------------------------------------------------------------


def grad_norms_through_time(
    states: Sequence[Tensor], loss: Tensor, *, retain_graph: bool = False
) -> Tensor:
    """``‖∂L/∂h_t‖`` for every step ``t``, by autograd.

    ``states`` must be the per-step tensors that the recurrence itself passed on (each ``h_t``
    that step ``t+1`` consumed), so the gradient of each is the *total* one: from the loss
    directly and through all later steps. A stacked ``(B, T, H)`` output is not enough: its
    gradient is only the direct part. ``torch.autograd.grad`` reads these gradients without
    ``retain_grad`` and leaves every ``.grad`` untouched.

    Example (the chapter 4 plot; ``caches[t].h`` are the states of a course RNN)::

        for rho in (0.8, 1.0, 1.2):
            W_h = (rho / spectral_radius(W)) * W          # W (H, H) random, requires_grad
            h_seq, caches = rnn_forward_cached(x, h0, W_x, W_h)
            loss = h_seq[:, -1].sum()                     # a loss on the last step only
            plt.semilogy(grad_norms_through_time([c.h for c in caches], loss), label=rho)

    Args:
        states: ``T`` tensors, typically ``(B, H)``, in time order, inside the graph of ``loss``.
        loss: a scalar tensor that requires grad.
        retain_graph: keep the graph for another backward pass.

    Returns:
        ``(T,)`` tensor: the Frobenius norm (over batch and features) of ``∂L/∂h_t``; 0 for a
        state the loss does not depend on.
    """
    if isinstance(states, Tensor):
        raise TypeError(
            "states must be a list of the per-step tensors h_t (the ones fed to the next step); "
            "a stacked tensor only receives the direct gradient, not the one through later steps"
        )
    require("given", states=states, loss=loss)
    if not isinstance(loss, Tensor) or not loss.requires_grad or loss.numel() != 1:
        raise ValueError("loss must be a scalar tensor that requires grad (built from the states)")
    grads = torch.autograd.grad(loss, list(states), allow_unused=True, retain_graph=retain_graph)
    return torch.stack(
        [
            torch.zeros((), dtype=loss.dtype, device=loss.device)
            if g is None
            else torch.linalg.vector_norm(g)
            for g in grads
        ]
    )


@numpy_io
def jacobian_norms(W_h: Tensor, h_seq: Tensor, ord: float | str = 2) -> Tensor:
    """Norms of ``∂h_t/∂h_0`` along the states of a tanh RNN, per sample.

    With row vectors, ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)`` gives
    ``[∂h_t/∂h_{t-1}]_{ij} = (1 − h_{t,i}²) W_h[j, i]``, i.e. the Jacobian
    ``J_t = diag(1 − h_t²) W_hᵀ`` (the transpose of the column-vector textbook form), and
    ``∂h_t/∂h_0 = J_t J_{t-1} ⋯ J_1``. Its norm shrinks or grows roughly geometrically: the
    regime of :func:`classify_regime`.

    Args:
        W_h: ``(H, H)`` recurrent weights.
        h_seq: ``(B, T, H)`` states ``h_1 … h_T`` of a tanh RNN run with ``W_h``.
        ord: matrix norm, as ``torch.linalg.matrix_norm``: ``2`` is the spectral norm (largest
            singular value, the default), ``"fro"`` the Frobenius norm.

    Returns:
        ``(B, T)``: entry ``[b, t]`` is ``‖∂h_{t+1}/∂h_0‖`` for sample ``b``.
    """
    require("given", W_h=W_h, h_seq=h_seq)
    check_args(W_h=(W_h, "H H"), h_seq=(h_seq, "B T H"))
    batch, steps, hidden = h_seq.shape
    product = torch.eye(hidden, dtype=W_h.dtype, device=W_h.device).expand(batch, hidden, hidden)
    norms = []
    for t in range(steps):
        # J_t P = diag(1 − h_t²) (W_hᵀ P): scale row i of W_hᵀ P by 1 − h_{t,i}².
        product = (1 - h_seq[:, t] ** 2).unsqueeze(-1) * (W_h.T @ product)
        norms.append(torch.linalg.matrix_norm(product, ord=ord))
    return torch.stack(norms, dim=1)


@numpy_io
def spectral_radius(W: Tensor) -> float:
    """``max |λ|`` over the eigenvalues ``λ`` of a square ``W`` (complex ones included).

    For the linear recurrence ``h_t = h_{t-1} W`` the states shrink to 0 when this is below 1
    and (generically) blow up when it is above 1.
    """
    _check_finite_matrix(W, "N N")
    if W.numel() == 0:
        raise ValueError(f"W has shape {tuple(W.shape)}: an empty matrix has no eigenvalues")
    return float(torch.linalg.eigvals(W).abs().max())


@numpy_io
def largest_singular_value(W: Tensor) -> float:
    """``σ_max(W) = ‖W‖_2``, the spectral norm. It bounds the spectral radius from above;
    ``σ_max(W_h) < 1`` is *sufficient* for vanishing gradients in a tanh RNN (since
    ``|tanh'| ≤ 1``), Pascanu et al. 2013."""
    _check_finite_matrix(W, "M N")
    return float(torch.linalg.matrix_norm(W, ord=2))


def _check_finite_matrix(W: Tensor, spec: str) -> None:
    """A matrix ``W`` without NaN or inf, checked before LAPACK sees it: its eigenvalue routine
    can crash the whole process on them (MKL, measured) instead of raising."""
    require("given", W=W)
    check_args(W=(W, spec))
    finite = torch.isfinite(W)
    if not bool(finite.all()):
        raise ValueError(
            f"W contains NaN or inf: {int((~finite).sum())} of its {W.numel()} entries; look for "
            "where they come from (a diverged training run?)"
        )


Regime = Literal["vanishing", "exploding", "stable"]


def classify_regime(norms: Any, tol: float = 0.05) -> Regime:
    """Name the regime of a sequence of gradient or Jacobian norms.

    ``norms[k]`` must be the norm after ``k`` steps of backpropagation, i.e. ordered by distance
    travelled: :func:`jacobian_norms` of one sample is already in this order; for
    :func:`grad_norms_through_time` with a loss at the last step, reverse it (``.flip(0)``).

    Rule: fit a least-squares line to ``log norms[k]`` against ``k``; its slope ``s`` is the
    log of the per-step growth factor. ``s < −tol`` → "vanishing", ``s > tol`` → "exploding",
    otherwise "stable". The default ``tol = 0.05`` means a factor outside about
    ``[0.95, 1.05]`` per step. A fit uses every point, so one noisy step does not decide.
    Norms that underflowed to 0 count as tiny (pushing towards "vanishing"), all-zero norms
    are "vanishing", and an infinite norm is "exploding".

    Args:
        norms: 1-D list, array or tensor of at least two non-negative numbers.
        tol: the threshold on the per-step log growth.
    """
    require("given", norms=norms)
    require("real", tol=tol)
    values = np.asarray(to_numpy(norms), dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"norms must be 1-D with at least 2 values, got shape {values.shape}")
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError("norms must be non-negative numbers (found NaN or a negative value)")
    if np.isinf(values).any():
        return "exploding"
    if not values.any():
        return "vanishing"
    logs = np.log(np.maximum(values, np.finfo(np.float64).tiny))
    slope = np.polyfit(np.arange(values.size), logs, deg=1)[0]
    if slope < -tol:
        return "vanishing"
    if slope > tol:
        return "exploding"
    return "stable"
