"""Turning a model's next-token scores into text: sampling, greedy decoding and beam search.

A language model gives, at each step, logits ``s`` over a vocabulary of ``V`` tokens. Sampling
draws from ``softmax(s / T)``: a low temperature ``T`` sharpens the distribution towards the
argmax, a high one flattens it towards uniform; top-k sampling first discards all but the ``k``
likeliest tokens. Beam search instead keeps the ``beam_width`` best partial sequences at each
step — the "prediction tree" pruned to its most probable branches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from .checks import check_args
from .device import numpy_io
from .shapes import require

# step_fn(tokens (K,), state) -> (log_probs (K, V), new_state): one step of K beams at once.
StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]


def _check_logits(logits: Tensor) -> None:
    require("given", logits=logits)
    check_args(logits=(logits, None))
    if logits.dim() not in (1, 2):
        raise ValueError(f"logits has shape {tuple(logits.shape)}, expected (V,) or (B, V)")
    if logits.shape[-1] == 0:
        raise ValueError(f"logits has shape {tuple(logits.shape)}: a vocabulary of V = 0 tokens")


@numpy_io
def softmax_with_temperature(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """``softmax(logits / temperature)`` along the last axis.

    Args:
        logits: ``(V,)`` or ``(B, V)`` unnormalised scores.
        temperature: ``T > 0``. ``T = 1`` is the model's own distribution; ``T → 0`` tends to a
            one-hot on the argmax; ``T → ∞`` tends to uniform.

    Returns:
        Probabilities with the shape of ``logits``, summing to 1 along the last axis.
    """
    _check_logits(logits)
    require("real", temperature=temperature)
    if not temperature > 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}; for T = 0 take the argmax "
            "(sample_next(..., temperature=0) does)"
        )
    return torch.softmax(logits / temperature, dim=-1)


@numpy_io
def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> Tensor:
    """Draw the next token id from ``softmax(logits / temperature)``, optionally top-k only.

    Args:
        logits: ``(V,)`` or ``(B, V)`` unnormalised scores; ``-inf`` rules a token out. NaN,
            ``+inf`` or a row of only ``-inf`` (no distribution to draw from) raise ValueError.
        temperature: ``T >= 0``. ``T = 0`` is defined as greedy decoding (the argmax, the limit
            of sampling as ``T → 0``); negative values raise ``ValueError``.
        top_k: keep only the ``k`` highest logits and renormalise; ``None`` keeps all ``V``.
            Exactly ``k`` tokens are kept, those ``torch.topk`` picks: when several tie for the
            ``k``-th place, which of them stay is up to torch (not by index; it may differ
            between devices).
        generator: a ``torch.Generator`` on the logits' device, for reproducible draws that
            continue a stream.
        seed: shorthand for a fresh generator seeded with this value (same seed, same draw).
            Give ``generator`` or ``seed``, not both; neither uses torch's global RNG.

    Returns:
        int64 token ids: shape ``()`` for ``(V,)`` logits, ``(B,)`` for ``(B, V)``.
    """
    _check_logits(logits)
    # -inf is a legitimate logit (a token that must not come out); NaN and +inf have no softmax.
    if bool(torch.isnan(logits).any() | torch.isposinf(logits).any()):
        raise ValueError("logits contains NaN or +inf; use -inf to rule a token out")
    if bool(torch.isneginf(logits).all(dim=-1).any()):
        raise ValueError("a row of logits is all -inf: no token is left to draw")
    vocab = logits.shape[-1]
    require("real", temperature=temperature)
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature}")
    if top_k is not None:
        require("int", top_k=top_k)
        if not 1 <= top_k <= vocab:
            raise ValueError(f"top_k must be between 1 and V = {vocab}, got {top_k}")
    if seed is not None:
        require("int", seed=seed)
    if generator is not None and seed is not None:
        raise ValueError("give either generator or seed, not both")
    if seed is not None:
        generator = torch.Generator(device=logits.device).manual_seed(int(seed))
    rows = logits.reshape(-1, vocab)
    if top_k is not None and top_k < vocab:
        # -inf outside the top k: softmax gives those tokens probability exactly zero.
        kept = torch.topk(rows, top_k, dim=-1).indices
        rows = torch.full_like(rows, float("-inf")).scatter(-1, kept, rows.gather(-1, kept))
    if temperature == 0:
        tokens = rows.argmax(dim=-1)
    else:
        probs = softmax_with_temperature(rows, temperature)
        tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return tokens.reshape(logits.shape[:-1])


class BeamNode(NamedTuple):
    """One kept hypothesis in the beam-search tree (enough to draw the tree).

    ``parent`` is the id of the node it extends (-1 for the root, which holds the start token);
    ``score`` is the total log-probability of the path from the root to this node.
    """

    id: int
    parent: int
    step: int
    token: int
    score: float
    finished: bool


class BeamSearchResult(NamedTuple):
    """Best-first hypotheses (tokens after the start token), their total log-probabilities,
    and every node kept along the way."""

    sequences: list[list[int]]
    scores: list[float]
    tree: list[BeamNode]


def select_beams(state: Any, index: Tensor) -> Any:
    """Select beams ``index`` along dim 0 of every tensor in ``state`` (nested tuples, lists and
    dicts allowed; ``None`` passes through). The default for :func:`beam_search`."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(select_beams(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_beams(s, index) for s in state)
    if isinstance(state, dict):
        return {k: select_beams(v, index) for k, v in state.items()}
    raise TypeError(f"cannot reorder a state of type {type(state).__name__}; pass reorder_state=")


def _state_device(state: Any) -> torch.device | None:
    """The device of the first tensor in a (nested) state, so the first tokens live there too."""
    if isinstance(state, Tensor):
        return state.device
    if isinstance(state, dict):
        state = list(state.values())
    if not isinstance(state, (tuple, list)):
        return None
    for child in state:
        device = _state_device(child)
        if device is not None:
            return device
    return None


class _Hypothesis(NamedTuple):
    tokens: list[int]
    score: float
    node: int  # id of its last node in the tree


def beam_search(
    step_fn: StepFn,
    start_state: Any,
    start_token: int,
    *,
    beam_width: int,
    max_len: int,
    end_token: int | None = None,
    reorder_state: Callable[[Any, Tensor], Any] = select_beams,
) -> BeamSearchResult:
    """Keep the ``beam_width`` most probable partial sequences, step by step.

    The model is called once per step on all live beams together::

        log_probs, new_state = step_fn(tokens, state)   # tokens (K,), log_probs (K, V)

    where ``tokens`` are the K beams' latest tokens, ``state`` is their batched state (K along
    dim 0 of every tensor: ``start_state`` has K = 1), and ``log_probs[k]`` is the
    log-distribution of the token that follows beam k. After each step the new state is
    reordered with ``reorder_state(new_state, parents)`` so that row k belongs to the new k-th
    beam; pass your own for states whose batch axis is not 0 (``nn.LSTM``'s ``(h, c)`` are
    ``(layers, K, H)``: ``lambda s, i: tuple(t[:, i] for t in s)``).

    Scoring and ended beams: a hypothesis's score is the plain sum of its tokens' log-probs (no
    length normalisation). A hypothesis ends when it emits ``end_token`` (kept in its tokens) or
    reaches ``max_len`` tokens. Ended hypotheses stay in the pool with their score and compete
    with the extensions of live ones for the ``beam_width`` places; the search stops when no
    kept hypothesis is live. Since log-probs are <= 0, extending never raises a score, so plain
    sums favour short hypotheses — a known bias of beam search that length normalisation
    (not done here) counters. With ``beam_width >= V ** max_len`` nothing is ever pruned and the
    search is exhaustive; ``beam_width = 1`` is greedy decoding.

    Args:
        step_fn: the model, as above.
        start_state: the state before the first token, batch of 1.
        start_token: the token fed first (not part of the returned sequences).
        beam_width: how many hypotheses to keep, >= 1.
        max_len: the most tokens generated after the start token, >= 1.
        end_token: the token that ends a hypothesis, or None.
        reorder_state: selects beams from a batched state (default: dim 0 of every tensor).

    Returns:
        :class:`BeamSearchResult`: up to ``beam_width`` sequences best first, their scores, and
        the tree of every kept node (for drawing which branches survived).
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable, step_fn(tokens, state), got {step_fn!r}")
    require("int", beam_width=beam_width, max_len=max_len, start_token=start_token)
    if end_token is not None:
        require("int", end_token=end_token)
    if beam_width < 1:
        raise ValueError(f"beam_width must be an integer >= 1, got {beam_width!r}")
    if max_len < 1:
        raise ValueError(f"max_len must be an integer >= 1, got {max_len!r}")
    tree = [BeamNode(0, -1, 0, int(start_token), 0.0, False)]
    live = [_Hypothesis([], 0.0, 0)]
    done: list[_Hypothesis] = []
    tokens = torch.tensor([int(start_token)], device=_state_device(start_state))
    state = start_state
    for step in range(1, max_len + 1):
        log_probs, state = step_fn(tokens, state)
        if not isinstance(log_probs, Tensor) or log_probs.dim() != 2 or len(log_probs) != len(live):
            got = tuple(log_probs.shape) if isinstance(log_probs, Tensor) else type(log_probs)
            raise ValueError(
                f"step_fn returned log_probs of shape {got}, expected (K, V), K={len(live)}"
            )
        vocab = log_probs.shape[1]
        # Pool = ended hypotheses (unchanged) + every one-token extension of the live ones.
        live_scores = torch.tensor([h.score for h in live], dtype=torch.float64)
        extended = live_scores[:, None] + log_probs.detach().to("cpu", torch.float64)
        pool = torch.cat(
            [torch.tensor([h.score for h in done], dtype=torch.float64), extended.flatten()]
        )
        best = torch.topk(pool, min(beam_width, len(pool))).indices.tolist()
        new_done, new_live, parents = [], [], []
        for idx in best:
            if idx < len(done):
                new_done.append(done[idx])
                continue
            parent, token = divmod(idx - len(done), vocab)
            finished = token == end_token or step == max_len
            node = BeamNode(len(tree), live[parent].node, step, token, float(pool[idx]), finished)
            tree.append(node)
            hyp = _Hypothesis([*live[parent].tokens, token], node.score, node.id)
            if finished:
                new_done.append(hyp)
            else:
                new_live.append(hyp)
                parents.append(parent)
        done, live = new_done, new_live
        if not live:
            break
        index = torch.tensor(parents, device=log_probs.device)
        state = reorder_state(state, index)
        tokens = torch.tensor([h.tokens[-1] for h in live], device=log_probs.device)
    ranked = sorted(done, key=lambda h: h.score, reverse=True)
    return BeamSearchResult([h.tokens for h in ranked], [h.score for h in ranked], tree)


def greedy_decode(
    step_fn: StepFn,
    start_state: Any,
    start_token: int,
    *,
    max_len: int,
    end_token: int | None = None,
    reorder_state: Callable[[Any, Tensor], Any] = select_beams,
) -> tuple[list[int], float]:
    """Pick the most probable token at every step: beam search with ``beam_width = 1``.

    Returns:
        ``(tokens, total log-probability)``; same ``step_fn`` contract as :func:`beam_search`.
    """
    result = beam_search(
        step_fn,
        start_state,
        start_token,
        beam_width=1,
        max_len=max_len,
        end_token=end_token,
        reorder_state=reorder_state,
    )
    return result.sequences[0], result.scores[0]
