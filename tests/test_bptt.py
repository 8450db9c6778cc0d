"""Truncated BPTT: the state is carried and detached between chunks, nothing else changes."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from course_lib.bptt import detach_state, truncated_bptt_epoch
from course_lib.gradients import clip_by_global_norm

B, T, D, H = 2, 8, 3, 4
CHUNK = 3  # chunks of 3, 3 and 2 steps: the last one is shorter
F64 = torch.float64


class Recorder:
    """An optimizer that changes nothing and keeps a copy of the gradients of every step."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = list(params)
        self.seen: list[list[Tensor]] = []

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.seen.append([p.grad.clone() for p in self.params])


def make_data(gen: torch.Generator) -> tuple[Tensor, Tensor]:
    x = torch.randn(B, T, D, generator=gen, dtype=F64)
    y = torch.randn(B, T, H, generator=gen, dtype=F64)
    return x, y


def make_model(cls: type[nn.RNNBase] = nn.RNN) -> nn.RNNBase:
    torch.manual_seed(0)
    return cls(D, H, batch_first=True).double()


def mse(output: Tensor, target: Tensor) -> Tensor:
    # nn.LSTM and nn.RNN return (B, t, H) outputs; a mean over the chunk, as the docstring asks.
    return ((output - target) ** 2).mean()


def test_detach_state() -> None:
    assert detach_state(None) is None
    w = torch.ones(2, requires_grad=True)
    h, c = w * 2, w * 3
    out = detach_state((h, c))
    assert isinstance(out, tuple) and len(out) == 2
    assert all(not s.requires_grad and s.grad_fn is None for s in out)
    assert torch.equal(out[0], h) and torch.equal(out[1], c)
    nested = detach_state([h, (c, h)])
    assert isinstance(nested, list) and isinstance(nested[1], tuple)
    assert not nested[1][0].requires_grad
    with pytest.raises(TypeError, match="state must be"):
        detach_state({"h": h})


def test_gradients_are_per_chunk_with_detached_state(rng: torch.Generator) -> None:
    x, y = make_data(rng)
    model = make_model()
    recorder = Recorder(list(model.parameters()))
    mean_loss, state = truncated_bptt_epoch(model, x, y, CHUNK, mse, recorder)
    assert len(recorder.seen) == 3

    # The same computation written out by hand: carry the state, detach it, differentiate.
    params = list(model.parameters())
    carried = None
    full_output, full_state = model(x)
    for k, start in enumerate(range(0, T, CHUNK)):
        window = slice(start, start + CHUNK)
        output, carried = model(x[:, window], None if carried is None else carried.detach())
        # Forward values are untouched by truncation: the state really is carried over.
        assert torch.allclose(output, full_output[:, window], atol=1e-12, rtol=0)
        expected = torch.autograd.grad(mse(output, y[:, window]), params)
        for got, want in zip(recorder.seen[k], expected, strict=True):
            assert torch.allclose(got, want, atol=1e-12, rtol=0)
        if k > 0:
            # Full BPTT sends this chunk's loss back into earlier steps too: different gradients,
            # which proves the recorded ones were cut at the chunk boundary.
            untruncated = torch.autograd.grad(
                mse(full_output[:, window], y[:, window]), params, retain_graph=True
            )
            gap = max(
                (a - b).abs().max().item() for a, b in zip(untruncated, expected, strict=True)
            )
            assert gap > 1e-6

    # Returned state: the final state of the whole sequence, detached.
    assert torch.allclose(state, full_state, atol=1e-12, rtol=0) and not state.requires_grad
    # Chunk losses weighted by chunk length give the mean over all T steps.
    assert mean_loss == pytest.approx(mse(full_output, y).item(), rel=1e-12)


def test_sgd_training_matches_a_hand_written_loop(rng: torch.Generator) -> None:
    x, y = make_data(rng)
    ours, manual = make_model(nn.LSTM), make_model(nn.LSTM)
    optimizer = torch.optim.SGD(ours.parameters(), lr=0.1)
    loss, state = truncated_bptt_epoch(ours, x, y, CHUNK, mse, optimizer, clip=0.05)
    assert isinstance(state, tuple) and all(not s.requires_grad for s in state)

    manual_opt = torch.optim.SGD(manual.parameters(), lr=0.1)
    carried, losses = None, []
    for start in range(0, T, CHUNK):
        manual_opt.zero_grad()
        output, carried = manual(x[:, start : start + CHUNK], detach_state(carried))
        chunk_loss = mse(output, y[:, start : start + CHUNK])
        chunk_loss.backward()
        torch.nn.utils.clip_grad_norm_(manual.parameters(), 0.05)
        manual_opt.step()
        losses.append(chunk_loss.item() * output.shape[1])
    assert loss == pytest.approx(sum(losses) / T, rel=1e-12)
    for a, b in zip(ours.parameters(), manual.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)
    assert any(  # training happened
        not torch.allclose(a, b)
        for a, b in zip(ours.parameters(), make_model(nn.LSTM).parameters(), strict=True)
    )


def test_clip_is_applied_before_the_step(rng: torch.Generator) -> None:
    x, y = make_data(rng)
    model = make_model()
    recorder = Recorder(list(model.parameters()))
    truncated_bptt_epoch(model, x, 100 * y, CHUNK, mse, recorder, clip=0.1)
    for grads in recorder.seen:
        norm = clip_by_global_norm(grads, float("inf"))[1]
        assert norm.item() <= 0.1 + 1e-9


def test_state_carries_across_calls(rng: torch.Generator) -> None:
    """Stateful use: two half epochs, the second starting from the first's state, equal one."""
    x, y = make_data(rng)
    whole, halves = make_model(nn.GRU), make_model(nn.GRU)
    whole_rec, halves_rec = Recorder(list(whole.parameters())), Recorder(list(halves.parameters()))
    _, state_whole = truncated_bptt_epoch(whole, x, y, 4, mse, whole_rec)
    _, mid = truncated_bptt_epoch(halves, x[:, :4], y[:, :4], 4, mse, halves_rec)
    _, state_halves = truncated_bptt_epoch(
        halves, x[:, 4:], y[:, 4:], 4, mse, halves_rec, state=mid
    )
    assert torch.allclose(state_whole, state_halves, atol=1e-12, rtol=0)
    for got, want in zip(halves_rec.seen[1], whole_rec.seen[1], strict=True):
        assert torch.allclose(got, want, atol=1e-12, rtol=0)


def test_progress_bar(rng: torch.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = make_data(rng)
    model = make_model()
    truncated_bptt_epoch(model, x, y, CHUNK, mse, Recorder(list(model.parameters())), progress=True)
    assert "truncated BPTT" in capsys.readouterr().err
    truncated_bptt_epoch(model, x, y, CHUNK, mse, Recorder(list(model.parameters())))
    assert "truncated BPTT" not in capsys.readouterr().err


def test_bad_arguments(rng: torch.Generator) -> None:
    x, y = make_data(rng)
    model = make_model()
    opt = Recorder(list(model.parameters()))
    with pytest.raises(ValueError, match=r"y has shape \(2, 7, 4\)"):
        truncated_bptt_epoch(model, x, y[:, :-1], CHUNK, mse, opt)
    with pytest.raises(ValueError, match="chunk_len"):
        truncated_bptt_epoch(model, x, y, 0, mse, opt)
    with pytest.raises(ValueError, match="x has shape"):
        truncated_bptt_epoch(model, x[0, 0], y, CHUNK, mse, opt)
    with pytest.raises(TypeError, match="nn.Module"):
        truncated_bptt_epoch(lambda a, s: model(a, s), x, y, CHUNK, mse, opt, clip=1.0)
