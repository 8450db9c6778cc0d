"""Hand-written backward passes against torch autograd (float64), for one step and for sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from course_lib.backward import (
    gru_backward,
    gru_cell_backward,
    gru_cell_forward_cached,
    gru_forward_cached,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward_cached,
    lstm_forward_cached,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward_cached,
    rnn_forward_cached,
)
from course_lib.cells import gru_cell_forward, lstm_cell_forward, rnn_cell_forward

B, T, D, H = 3, 6, 4, 5
TOL = 1e-10
# "gru" is the cuDNN form (reset after the recurrent matmul), "gru_cho" the Cho et al. form.
KINDS = ["rnn", "lstm", "gru", "gru_cho"]
GATES = {"rnn": 1, "lstm": 4, "gru": 3, "gru_cho": 3}


def make_params(
    kind: str,
    bias: bool,
    gen: torch.Generator,
    *,
    sequence: bool,
    device: str = "cpu",
    dims: tuple[int, int, int, int] = (B, T, D, H),
) -> dict[str, Tensor]:
    """Random float64 arguments named as the forward functions name them; dims is (B, T, D, H)."""
    B, T, D, H = dims

    def randn(*shape: int, scale: float = 1.0) -> Tensor:
        return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(device)

    k = GATES[kind]
    state = "0" if sequence else "_prev"
    params = {"x": randn(B, T, D) if sequence else randn(B, D), f"h{state}": randn(B, H)}
    if kind == "lstm":
        params[f"c{state}"] = randn(B, H)
    # Scale 0.5 keeps the gates away from saturation, so every derivative term matters.
    params["W_x"], params["W_h"] = randn(D, k * H, scale=0.5), randn(H, k * H, scale=0.5)
    if bias and kind.startswith("gru"):
        params["b_x"], params["b_h"] = randn(k * H), randn(k * H)
    elif bias:
        params["b"] = randn(k * H)
    return params


def cell_forward(kind: str, p: dict[str, Tensor]) -> tuple[dict[str, Tensor], object]:
    """Run a cached cell forward; returns the outputs by name (h, and c for LSTM) and the cache."""
    if kind == "rnn":
        h, cache = rnn_cell_forward_cached(**p)
        return {"h": h}, cache
    if kind == "lstm":
        h, c, cache = lstm_cell_forward_cached(**p)
        return {"h": h, "c": c}, cache
    h, cache = gru_cell_forward_cached(**p, reset_after=kind == "gru")
    return {"h": h}, cache


def cell_backward(kind: str, upstream: dict[str, Tensor], cache: object) -> dict[str, Tensor]:
    if kind == "rnn":
        return rnn_cell_backward(upstream["h"], cache)
    if kind == "lstm":
        return lstm_cell_backward(upstream["h"], upstream["c"], cache)
    return gru_cell_backward(upstream["h"], cache)


def seq_forward(kind: str, p: dict[str, Tensor]) -> tuple[Tensor, list]:
    if kind == "rnn":
        return rnn_forward_cached(**p)
    if kind == "lstm":
        return lstm_forward_cached(**p)
    return gru_forward_cached(**p, reset_after=kind == "gru")


def seq_backward(kind: str, dh_seq: Tensor, caches: list, final: dict[str, Tensor]) -> dict:
    if kind == "rnn":
        return rnn_backward(dh_seq, caches, **final)
    if kind == "lstm":
        return lstm_backward(dh_seq, caches, **final)
    return gru_backward(dh_seq, caches, **final)


def assert_matches_autograd(
    loss: Tensor, leaves: dict[str, Tensor], grads: dict[str, Tensor]
) -> None:
    """One gradient per input, named d<input>, each within TOL of autograd's."""
    assert set(grads) == {f"d{name}" for name in leaves}
    expected = torch.autograd.grad(loss, list(leaves.values()))
    for (name, leaf), want in zip(leaves.items(), expected, strict=True):
        got = grads[f"d{name}"]
        assert got.shape == leaf.shape, name
        assert (got - want).abs().max().item() <= TOL, f"d{name} differs from autograd"


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_backward_matches_autograd(kind: str, bias: bool, rng: torch.Generator) -> None:
    leaves = {
        k: v.requires_grad_() for k, v in make_params(kind, bias, rng, sequence=False).items()
    }
    outputs, cache = cell_forward(kind, leaves)
    upstream = {k: torch.randn(v.shape, generator=rng, dtype=v.dtype) for k, v in outputs.items()}
    loss = sum((outputs[k] * upstream[k]).sum() for k in outputs)
    with torch.no_grad():
        grads = cell_backward(kind, upstream, cache)
    assert_matches_autograd(loss, leaves, grads)


@pytest.mark.parametrize("final", [False, True], ids=["no_final_grad", "final_grad"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_backward_matches_autograd(
    kind: str, bias: bool, final: bool, rng: torch.Generator
) -> None:
    leaves = {k: v.requires_grad_() for k, v in make_params(kind, bias, rng, sequence=True).items()}
    h_seq, caches = seq_forward(kind, leaves)
    assert h_seq.shape == (B, T, H) and len(caches) == T
    dh_seq = torch.randn(B, T, H, generator=rng, dtype=torch.float64)
    loss = (h_seq * dh_seq).sum()
    extra: dict[str, Tensor] = {}
    if final:  # a loss that also reads the last state(s) directly, as h_n / c_n
        extra["dh_T"] = torch.randn(B, H, generator=rng, dtype=torch.float64)
        loss = loss + (caches[-1].h * extra["dh_T"]).sum()
        if kind == "lstm":
            extra["dc_T"] = torch.randn(B, H, generator=rng, dtype=torch.float64)
            loss = loss + (caches[-1].c * extra["dc_T"]).sum()
    with torch.no_grad():
        grads = seq_backward(kind, dh_seq, caches, extra)
    assert_matches_autograd(loss, leaves, grads)


@pytest.mark.parametrize(
    ("fn", "kind", "kwargs"),
    [
        (rnn_cell_forward, "rnn", {}),
        (lstm_cell_forward, "lstm", {}),
        (gru_cell_forward, "gru", {"reset_after": True}),
        (gru_cell_forward, "gru_cho", {"reset_after": False}),
    ],
)
def test_gradcheck_cell_forwards(fn, kind: str, kwargs: dict, rng: torch.Generator) -> None:
    params = make_params(kind, True, rng, sequence=False, dims=(2, 1, 2, 3))  # small: ~100 inputs
    args = tuple(v.requires_grad_() for v in params.values())
    assert torch.autograd.gradcheck(lambda *a: fn(*a, **kwargs), args)


@pytest.mark.parametrize("kind", KINDS)
def test_numpy_in_numpy_out(kind: str, rng: torch.Generator) -> None:
    params = make_params(kind, True, rng, sequence=True)
    dh_seq = torch.randn(B, T, H, generator=rng, dtype=torch.float64)
    h_torch, caches_torch = seq_forward(kind, params)
    grads_torch = seq_backward(kind, dh_seq, caches_torch, {})

    h_np, caches_np = seq_forward(kind, {k: v.numpy() for k, v in params.items()})
    grads_np = seq_backward(kind, dh_seq.numpy(), caches_np, {})
    assert isinstance(h_np, np.ndarray) and isinstance(caches_np[0].h, np.ndarray)
    assert np.allclose(h_np, h_torch.numpy(), atol=TOL, rtol=0)
    assert set(grads_np) == set(grads_torch)
    for name, grad in grads_np.items():
        assert isinstance(grad, np.ndarray), name
        assert np.allclose(grad, grads_torch[name].numpy(), atol=TOL, rtol=0), name


def test_cell_backward_numpy(rng: torch.Generator) -> None:
    """A student writes the cell backward in numpy: the reference takes and returns numpy."""
    params = {k: v.numpy() for k, v in make_params("lstm", True, rng, sequence=False).items()}
    h, c, cache = lstm_cell_forward_cached(**params)
    grads = lstm_cell_backward(np.ones_like(h), np.zeros_like(c), cache)
    assert all(isinstance(g, np.ndarray) for g in grads.values())
    assert grads["dW_h"].shape == (H, 4 * H) and grads["db"].shape == (4 * H,)


def test_backward_leaves_inputs_untouched(rng: torch.Generator) -> None:
    params = make_params("gru_cho", True, rng, sequence=True)
    snapshot = {k: v.clone() for k, v in params.items()}
    _, caches = seq_forward("gru_cho", params)
    dh_seq = torch.randn(B, T, H, generator=rng, dtype=torch.float64)
    dh_copy = dh_seq.clone()
    gru_backward(dh_seq, caches)
    assert torch.equal(dh_seq, dh_copy)
    assert all(torch.equal(params[k], snapshot[k]) for k in params)


def test_bad_upstream_shape_names_the_argument(rng: torch.Generator) -> None:
    params = make_params("rnn", True, rng, sequence=True)
    _, caches = rnn_forward_cached(**params)
    with pytest.raises(ValueError, match=r"dh_seq has shape \(3, 5, 5\)"):
        rnn_backward(torch.zeros(B, T - 1, H, dtype=torch.float64), caches)
    with pytest.raises(ValueError, match="dh_T"):
        rnn_backward(torch.zeros(B, T, H, dtype=torch.float64), caches, caches[0].x[:, :1])
    with pytest.raises(ValueError, match="dh has shape"):
        rnn_cell_backward(torch.zeros(B, H + 1, dtype=torch.float64), caches[0])
    with pytest.raises(ValueError, match="dc has shape"):
        lstm_params = make_params("lstm", True, rng, sequence=False)
        _, _, cache = lstm_cell_forward_cached(**lstm_params)
        lstm_cell_backward(cache.h, cache.c[:, :1], cache)
    with pytest.raises(ValueError, match="caches is empty"):
        rnn_backward(torch.zeros(B, 0, H, dtype=torch.float64), [])


def test_bad_forward_shape_names_the_argument(rng: torch.Generator) -> None:
    params = make_params("lstm", True, rng, sequence=True)
    params["W_h"] = params["W_h"][:, :-1]
    with pytest.raises(ValueError, match=r"W_h has shape \(5, 19\)"):
        lstm_forward_cached(**params)
    params = make_params("rnn", False, rng, sequence=True)
    params["x"] = params["x"][:, 0]  # one step where a sequence is expected
    with pytest.raises(ValueError, match=r"x has shape \(3, 4\) \(2 dims\)"):
        rnn_forward_cached(**params)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", KINDS)
def test_backward_cuda_matches_cpu(kind: str) -> None:
    grads = {}
    for device in ("cpu", "cuda"):
        gen = torch.Generator().manual_seed(7)
        params = make_params(kind, True, gen, sequence=True, device=device)
        dh_seq = torch.randn(B, T, H, generator=gen, dtype=torch.float64).to(device)
        _, caches = seq_forward(kind, params)
        grads[device] = seq_backward(kind, dh_seq, caches, {})
    for name, grad in grads["cuda"].items():
        assert grad.device.type == "cuda", name
        assert torch.allclose(grad.cpu(), grads["cpu"][name], atol=TOL, rtol=0), name
