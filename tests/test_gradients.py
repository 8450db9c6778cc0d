"""Clipping against torch.nn.utils, gradient checking, and the gradient-flow tools of chapter 4."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.backward import rnn_cell_backward, rnn_cell_forward_cached, rnn_forward_cached
from course_lib.cells import rnn_cell_forward
from course_lib.gradients import (
    classify_regime,
    clip_by_global_norm,
    clip_by_value,
    grad_norms_through_time,
    gradient_check,
    jacobian_norms,
    largest_singular_value,
    numerical_gradient,
    relative_error,
    spectral_radius,
)

F64 = torch.float64


def model_with_grads(dtype: torch.dtype, scale: float = 10.0) -> nn.Module:
    """A small model with gradients on every parameter except `unused`, whose grad stays None."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).to(dtype)
    model.unused = nn.Parameter(torch.ones(2, dtype=dtype))
    x = torch.randn(5, 4, dtype=dtype)
    (scale * model(x).pow(2).sum()).backward()
    return model


def grads_of(model: nn.Module) -> dict[str, torch.Tensor | None]:
    return {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


def assert_same_grads(ours: nn.Module, theirs: nn.Module) -> None:
    got, want = grads_of(ours), grads_of(theirs)
    assert got["unused"] is None and want["unused"] is None  # skipped, not created
    assert all(torch.equal(got[name], want[name]) for name in got if name != "unused")


# ---------------------------------------------------------------------------------------------
# Clipping by value
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_clip_by_value_on_parameters_matches_torch(dtype: torch.dtype) -> None:
    ours, theirs = model_with_grads(dtype), model_with_grads(dtype)
    before = grads_of(ours)
    assert clip_by_value(ours.parameters(), 0.5) is None
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.5)
    assert_same_grads(ours, theirs)
    after = grads_of(ours)
    assert any(not torch.equal(before[n], after[n]) for n in after if n != "unused")


def test_clip_by_value_returns_copies() -> None:
    values = torch.tensor([-3.0, -0.2, 0.0, 0.7, 2.5], dtype=F64)
    original = values.clone()
    clipped = clip_by_value(values, 1.0)
    assert torch.equal(clipped, torch.tensor([-1.0, -0.2, 0.0, 0.7, 1.0], dtype=F64))
    assert torch.equal(values, original)

    arrays = [np.array([5.0, -5.0]), np.array([[0.1, -0.3]])]
    out = clip_by_value(arrays, 0.2)
    assert isinstance(out, list) and all(isinstance(a, np.ndarray) for a in out)
    assert np.array_equal(out[0], [0.2, -0.2]) and np.array_equal(out[1], [[0.1, -0.2]])
    assert np.array_equal(arrays[0], [5.0, -5.0])
    assert isinstance(clip_by_value(np.array([3.0]), 1.0), np.ndarray)


def test_clip_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="clip_value"):
        clip_by_value(torch.ones(3), -1.0)
    with pytest.raises(TypeError, match="mixes"):
        clip_by_value([nn.Parameter(torch.ones(2)), torch.ones(2)], 1.0)
    with pytest.raises(TypeError, match=r"grads\[1\] must be a torch.Tensor"):
        clip_by_global_norm([torch.ones(2), [1.0, 2.0]], 1.0)


# ---------------------------------------------------------------------------------------------
# Clipping by global norm
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_norm", [0.5, 1e6], ids=["clipped", "untouched"])
@pytest.mark.parametrize("norm_type", [2.0, math.inf, "inf", 1.0])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_clip_by_global_norm_on_parameters_matches_torch(
    dtype: torch.dtype, norm_type: float | str, max_norm: float
) -> None:
    ours, theirs = model_with_grads(dtype), model_with_grads(dtype)
    total = clip_by_global_norm(ours.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, float(norm_type))
    assert isinstance(total, torch.Tensor) and total.dtype == expected.dtype
    assert torch.equal(total, expected)
    assert_same_grads(ours, theirs)


def test_clip_by_global_norm_scales_to_max_norm() -> None:
    model = model_with_grads(F64)
    before = clip_by_global_norm(model.parameters(), math.inf)  # measures, scales by 1
    assert before > 1.0
    after_clip = clip_by_global_norm(model.parameters(), 1.0)
    assert torch.equal(after_clip, before)  # the return value is the norm *before* clipping
    now = clip_by_global_norm(model.parameters(), math.inf)
    assert math.isclose(now.item(), before.item() / (before.item() + 1e-6), rel_tol=1e-12)


def test_clip_by_global_norm_zero_and_empty() -> None:
    zero = nn.Parameter(torch.ones(3, dtype=F64))
    zero.grad = torch.zeros(3, dtype=F64)
    total = clip_by_global_norm([zero], 1.0)
    assert total.item() == 0.0 and torch.equal(zero.grad, torch.zeros(3, dtype=F64))  # no NaN
    assert torch.equal(clip_by_global_norm([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0))


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_clip_by_global_norm_functional(norm_type: float) -> None:
    model = model_with_grads(F64)
    params = [p for p in model.parameters() if p.grad is not None]
    arrays = [p.grad.numpy().copy() for p in params]
    originals = [a.copy() for a in arrays]
    clipped, total = clip_by_global_norm(arrays, 0.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(params, 0.5, norm_type)
    assert isinstance(total, np.ndarray) and total.shape == ()
    assert total == expected.item()
    assert len(clipped) == len(params)
    for got, param, original, array in zip(clipped, params, originals, arrays, strict=True):
        assert isinstance(got, np.ndarray)
        assert np.array_equal(got, param.grad.numpy())
        assert np.array_equal(array, original)  # copies: the inputs are untouched

    one, total_one = clip_by_global_norm(torch.tensor([3.0, 4.0], dtype=F64), 1.0)
    assert total_one.item() == 5.0
    assert torch.allclose(one, torch.tensor([0.6, 0.8], dtype=F64), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------------------------


def test_numerical_gradient_agrees_with_autograd(rng: torch.Generator) -> None:
    W = torch.randn(4, 3, generator=rng, dtype=F64)
    x = torch.randn(2, 4, generator=rng, dtype=F64, requires_grad=True)

    def f(v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(v @ W).pow(2).sum()

    (expected,) = torch.autograd.grad(f(x), x)
    numeric = numerical_gradient(f, x)
    assert numeric.dtype == F64 and numeric.shape == x.shape
    assert relative_error(numeric, expected) < 1e-8


def test_numerical_gradient_numpy_float32_input() -> None:
    x = np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32).T  # not C-contiguous
    original = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float64
    assert np.allclose(grad, 3 * x.astype(np.float64) ** 2, atol=1e-7, rtol=0)
    assert np.array_equal(x, original)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, x)


def test_relative_error_formula() -> None:
    # max|a-b| = 0.5, max(|a|+|b|) = 2 + 2.5 = 4.5
    error = relative_error(np.array([1.0, 2.0]), torch.tensor([1.0, 2.5]))
    assert error == pytest.approx(0.5 / 4.5)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(1e-30, 2e-30) == pytest.approx(1 / 3)  # scale-free
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_gradient_check_against_autograd_and_analytic(rng: torch.Generator) -> None:
    inputs = {
        "x": torch.randn(2, 3, generator=rng, dtype=F64),
        "h_prev": torch.randn(2, 4, generator=rng, dtype=F64),
        "W_x": torch.randn(3, 4, generator=rng, dtype=F64),
        "W_h": torch.randn(4, 4, generator=rng, dtype=F64),
    }
    upstream = torch.randn(2, 4, generator=rng, dtype=F64)

    def loss(**kw: torch.Tensor) -> torch.Tensor:
        return (rnn_cell_forward(**kw) * upstream).sum()

    errors = gradient_check(loss, inputs)
    assert set(errors) == set(inputs) and max(errors.values()) < 1e-7

    # A hand-written backward, checked in numpy as a student would.
    as_numpy = {k: v.numpy() for k, v in inputs.items()}
    _, cache = rnn_cell_forward_cached(**as_numpy)
    grads = rnn_cell_backward(upstream.numpy(), cache)
    analytic = {"W_h": grads["dW_h"], "x": grads["dx"]}
    errors = gradient_check(lambda **kw: loss(**kw).item(), inputs, analytic)
    assert set(errors) == {"W_h", "x"} and max(errors.values()) < 1e-7

    wrong = {"W_h": grads["dW_h"].T}  # the classic transposed-weight mistake is caught
    assert gradient_check(lambda **kw: loss(**kw).item(), inputs, wrong)["W_h"] > 1e-2
    with pytest.raises(ValueError, match="not inputs"):
        gradient_check(loss, inputs, {"b": np.zeros(4)})


# ---------------------------------------------------------------------------------------------
# Gradient flow
# ---------------------------------------------------------------------------------------------


def orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))
    return q


def test_grad_norms_through_time_match_retain_grad(rng: torch.Generator) -> None:
    B, T, D, H = 2, 7, 3, 4
    x = torch.randn(B, T, D, generator=rng, dtype=F64)
    W_x = torch.randn(D, H, generator=rng, dtype=F64)
    W_h = (0.9 * orthogonal(H, rng)).requires_grad_()
    h0 = torch.zeros(B, H, dtype=F64)
    weights = torch.randn(T, generator=rng, dtype=F64)

    h_seq, caches = rnn_forward_cached(x, h0, W_x, W_h)
    loss = (h_seq.sum(-1).sum(0) * weights).sum()  # a loss on every step
    norms = grad_norms_through_time([c.h for c in caches], loss)
    assert W_h.grad is None  # autograd.grad reads gradients without accumulating into .grad

    # Independent route: an explicit loop, retain_grad on each state, one backward().
    h, states = h0, []
    for t in range(T):
        h = rnn_cell_forward(x[:, t], h, W_x, W_h)
        h.retain_grad()
        states.append(h)
    (torch.stack(states, 1).sum(-1).sum(0) * weights).sum().backward()
    expected = torch.stack([s.grad.norm() for s in states])
    assert norms.shape == (T,)
    assert torch.allclose(norms, expected, atol=1e-12, rtol=0)


def test_grad_norms_through_time_zero_after_the_loss_and_errors(rng: torch.Generator) -> None:
    W_h = orthogonal(3, rng).requires_grad_()
    _, caches = rnn_forward_cached(
        torch.randn(1, 5, 2, dtype=F64),
        torch.zeros(1, 3, dtype=F64),
        torch.randn(2, 3, dtype=F64),
        W_h,
    )
    states = [c.h for c in caches]
    norms = grad_norms_through_time(states, states[2].sum(), retain_graph=True)
    assert (norms[:3] > 0).all() and (norms[3:] == 0).all()
    with pytest.raises(TypeError, match="list of the per-step"):
        grad_norms_through_time(torch.stack(states, 1), states[2].sum())
    with pytest.raises(ValueError, match="scalar"):
        grad_norms_through_time(states, states[2])


@pytest.mark.parametrize("ord_", [2, "fro"])
def test_jacobian_norms_match_autograd_jacobian(ord_: int | str, rng: torch.Generator) -> None:
    B, T, D, H = 2, 5, 3, 4
    x = torch.randn(B, T, D, generator=rng, dtype=F64)
    W_x = torch.randn(D, H, generator=rng, dtype=F64)
    W_h = torch.randn(H, H, generator=rng, dtype=F64)  # not symmetric: a transpose would show
    b = torch.randn(H, generator=rng, dtype=F64)
    h0 = 0.5 * torch.randn(B, H, generator=rng, dtype=F64)
    h_seq, _ = rnn_forward_cached(x, h0, W_x, W_h, b)
    norms = jacobian_norms(W_h, h_seq, ord=ord_)
    assert norms.shape == (B, T)

    for sample in range(B):
        for t in range(1, T + 1):

            def h_t_of_h0(h: torch.Tensor, sample: int = sample, t: int = t) -> torch.Tensor:
                h = h.unsqueeze(0)
                for s in range(t):
                    h = rnn_cell_forward(x[sample : sample + 1, s], h, W_x, W_h, b)
                return h.squeeze(0)

            J = torch.autograd.functional.jacobian(h_t_of_h0, h0[sample])
            expected = torch.linalg.matrix_norm(J, ord=ord_)
            assert torch.allclose(norms[sample, t - 1], expected, atol=1e-12, rtol=0)


def test_jacobian_norms_numpy_and_bad_shape(rng: torch.Generator) -> None:
    W_h = torch.randn(3, 3, generator=rng, dtype=F64)
    h_seq = torch.tanh(torch.randn(2, 4, 3, generator=rng, dtype=F64))
    out = jacobian_norms(W_h.numpy(), h_seq.numpy())
    assert isinstance(out, np.ndarray)
    assert np.allclose(out, jacobian_norms(W_h, h_seq).numpy(), atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"h_seq has shape \(2, 4, 5\)"):
        jacobian_norms(W_h, torch.zeros(2, 4, 5, dtype=F64))


def test_spectral_radius_and_singular_value(rng: torch.Generator) -> None:
    W = torch.randn(6, 6, generator=rng, dtype=F64)  # non-symmetric: complex eigenvalues
    assert spectral_radius(W) == pytest.approx(np.abs(np.linalg.eigvals(W.numpy())).max(), 1e-12)
    assert spectral_radius(W.numpy()) == pytest.approx(spectral_radius(W), 1e-15)
    rotation = torch.tensor([[0.0, -2.0], [2.0, 0.0]], dtype=F64)  # eigenvalues ±2i
    assert spectral_radius(rotation) == pytest.approx(2.0, 1e-15)
    rect = torch.randn(3, 5, generator=rng, dtype=F64)
    assert largest_singular_value(rect) == pytest.approx(np.linalg.svd(rect.numpy())[1][0], 1e-12)
    assert largest_singular_value(W) >= spectral_radius(W) - 1e-12
    with pytest.raises(ValueError, match=r"W has shape \(3, 5\)"):
        spectral_radius(rect)


def test_classify_regime_rule() -> None:
    steps = np.arange(30)
    assert classify_regime(0.9**steps) == "vanishing"
    assert classify_regime(torch.tensor(1.1**steps)) == "exploding"
    assert classify_regime([2.0] * 30) == "stable"
    noisy = np.exp(0.01 * steps + 0.3 * np.sin(steps))  # slow growth, large wiggles
    assert classify_regime(noisy) == "stable"
    assert classify_regime(noisy, tol=0.005) == "exploding"
    assert classify_regime([1.0, 1e-200, 0.0, 0.0]) == "vanishing"  # underflow
    assert classify_regime([0.0, 0.0]) == "vanishing"
    assert classify_regime([1.0, 1e200, math.inf]) == "exploding"
    with pytest.raises(ValueError, match="1-D"):
        classify_regime(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        classify_regime([1.0, math.nan, 2.0])


@pytest.mark.parametrize(
    ("rho", "regime"), [(0.6, "vanishing"), (1.0, "stable"), (1.5, "exploding")]
)
def test_spectral_radius_sets_the_regime(rho: float, regime: str, rng: torch.Generator) -> None:
    """End to end: near the origin tanh is linear, so an RNN with W_h = rho * orthogonal has
    Jacobian norms ≈ rho^t, and gradients through time follow suit."""
    H, T = 8, 12
    W_h = (rho * orthogonal(H, rng)).requires_grad_()
    assert spectral_radius(W_h.detach()) == pytest.approx(rho, 1e-12)
    h0 = 1e-8 * torch.randn(1, H, generator=rng, dtype=F64)
    h_seq, caches = rnn_forward_cached(
        torch.zeros(1, T, 1, dtype=F64), h0, torch.zeros(1, H, dtype=F64), W_h
    )
    assert classify_regime(jacobian_norms(W_h.detach(), h_seq.detach())[0]) == regime
    norms = grad_norms_through_time([c.h for c in caches], (h_seq[:, -1] * 1e8).sum())
    assert classify_regime(norms.flip(0)) == regime


@pytest.mark.gpu
def test_gradient_tools_cuda_match_cpu(rng: torch.Generator) -> None:
    W_h = torch.randn(4, 4, generator=rng, dtype=F64)
    h_seq = torch.tanh(torch.randn(2, 5, 4, generator=rng, dtype=F64))
    on_gpu = jacobian_norms(W_h.cuda(), h_seq.cuda())
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), jacobian_norms(W_h, h_seq), atol=1e-10, rtol=0)
    assert spectral_radius(W_h.cuda()) == pytest.approx(spectral_radius(W_h), rel=1e-10)

    grads = [torch.randn(3, generator=rng, dtype=F64), torch.randn(2, 2, generator=rng, dtype=F64)]
    clipped_cpu, total_cpu = clip_by_global_norm(grads, 0.5)
    clipped_gpu, total_gpu = clip_by_global_norm([g.cuda() for g in grads], 0.5)
    assert total_gpu.device.type == "cuda"
    assert torch.allclose(total_gpu.cpu(), total_cpu, atol=1e-12, rtol=0)
    for gpu, cpu in zip(clipped_gpu, clipped_cpu, strict=True):
        assert torch.allclose(gpu.cpu(), cpu, atol=1e-12, rtol=0)
