"""course_lib.decoding: sampling with temperature and top-k, greedy decoding, beam search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from course_lib.decoding import (
    beam_search,
    greedy_decode,
    sample_next,
    select_beams,
    softmax_with_temperature,
)


def test_softmax_with_temperature_matches_definition(rng: torch.Generator) -> None:
    logits = torch.randn(3, 7, generator=rng, dtype=torch.float64)
    for t in (0.3, 1.0, 4.0):
        probs = softmax_with_temperature(logits, t)
        expected = torch.exp(logits / t) / torch.exp(logits / t).sum(-1, keepdim=True)
        torch.testing.assert_close(probs, expected)
    flat = softmax_with_temperature(logits, 1e6)
    torch.testing.assert_close(flat, torch.full_like(flat, 1 / 7), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        softmax_with_temperature(logits, 0.0)


def test_sampling_is_reproducible_with_a_seed_or_generator(rng: torch.Generator) -> None:
    logits = torch.randn(64, 20, generator=rng)
    a = sample_next(logits, seed=7)
    assert a.shape == (64,) and a.dtype == torch.int64
    assert torch.equal(a, sample_next(logits, seed=7))
    assert not torch.equal(a, sample_next(logits, seed=8))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(sample_next(logits, generator=g1), sample_next(logits, generator=g2))
    # one stream keeps going: the second draw differs from the first
    assert not torch.equal(sample_next(logits, generator=g1), sample_next(logits, seed=3))


def test_sampling_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    sample_next(torch.zeros(5), seed=1)
    assert torch.equal(torch.rand(1), before)


def test_single_row_and_numpy_io() -> None:
    token = sample_next(torch.tensor([0.0, 5.0, 1.0]), seed=0)
    assert token.shape == () and 0 <= int(token) < 3
    out = sample_next(np.array([[0.0, 50.0], [50.0, 0.0]]), seed=0)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [1, 0])


def test_empirical_frequencies_match_the_softmax(rng: torch.Generator) -> None:
    logits = torch.randn(6, generator=rng, dtype=torch.float64)
    n = 40_000
    draws = sample_next(logits.expand(n, 6), seed=11)
    freq = torch.bincount(draws, minlength=6).double() / n
    probs = torch.softmax(logits, -1)
    # 5 binomial standard deviations: a false alarm is ~1e-6 per token
    tol = 5 * torch.sqrt(probs * (1 - probs) / n)
    assert torch.all((freq - probs).abs() < tol), (freq, probs)


def test_temperature_changes_the_spread(rng: torch.Generator) -> None:
    logits = torch.randn(10, generator=rng)
    best = int(logits.argmax())
    n = 5_000
    cold = sample_next(logits.expand(n, 10), temperature=0.05, seed=1)
    hot = sample_next(logits.expand(n, 10), temperature=5.0, seed=1)
    assert (cold == best).double().mean() > 0.99
    assert (hot == best).double().mean() < (cold == best).double().mean()
    assert len(torch.unique(hot)) > len(torch.unique(cold))


def test_temperature_zero_is_argmax_and_negative_is_an_error(rng: torch.Generator) -> None:
    logits = torch.randn(8, 30, generator=rng)
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample_next(logits, temperature=-1.0)


def test_top_k_never_leaves_the_top_k(rng: torch.Generator) -> None:
    logits = torch.randn(2000, 12, generator=rng)
    for k in (1, 3, 12):
        draws = sample_next(logits, top_k=k, temperature=3.0, seed=k)
        allowed = torch.topk(logits, k, dim=-1).indices
        assert torch.all((allowed == draws[:, None]).any(-1))
    assert torch.equal(sample_next(logits, top_k=1, seed=0), logits.argmax(-1))


def test_top_k_with_ties_keeps_exactly_k() -> None:
    logits = torch.zeros(20_000, 5)  # all tied: top 2 by index are tokens 0 and 1
    draws = sample_next(logits, top_k=2, seed=0)
    assert set(torch.unique(draws).tolist()) <= set(torch.topk(logits[0], 2).indices.tolist())
    assert len(torch.unique(draws)) == 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 6}, "top_k"),
        ({"seed": 1, "generator": torch.Generator()}, "not both"),
    ],
)
def test_sampling_bad_arguments(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        sample_next(torch.zeros(5), **kwargs)


def test_sampling_bad_logits() -> None:
    with pytest.raises(ValueError, match=r"logits has shape \(2, 3, 4\)"):
        sample_next(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="floating point"):
        sample_next(torch.zeros(5, dtype=torch.int64))


@pytest.mark.gpu
def test_sampling_on_gpu_matches_cpu_rules(rng: torch.Generator) -> None:
    logits = torch.randn(500, 9, generator=rng)
    draws = sample_next(logits.cuda(), top_k=2, seed=0)
    assert draws.device.type == "cuda"
    assert torch.equal(draws, sample_next(logits.cuda(), top_k=2, seed=0))
    allowed = torch.topk(logits, 2, dim=-1).indices
    assert torch.all((allowed == draws.cpu()[:, None]).any(-1))
    assert torch.equal(sample_next(logits.cuda(), temperature=0).cpu(), logits.argmax(-1))


# ---- beam search on a random model small enough to enumerate -------------------------------


class TableModel:
    """Next-token log-probs that depend on the whole prefix: a random table keyed by the prefix.

    The state is one integer per beam encoding its prefix, so the model is exact and cheap and
    greedy choices are generally not globally optimal.
    """

    def __init__(self, vocab: int, seed: int) -> None:
        self.vocab = vocab
        self.gen = torch.Generator().manual_seed(seed)
        self.table: dict[int, torch.Tensor] = {}

    def log_probs(self, code: int) -> torch.Tensor:
        if code not in self.table:
            self.table[code] = torch.log_softmax(
                3 * torch.randn(self.vocab, generator=self.gen, dtype=torch.float64), -1
            )
        return self.table[code]

    def extend(self, code: int, token: int) -> int:
        return code * (self.vocab + 1) + token + 1

    def step(self, tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = [self.extend(int(c), int(t)) for c, t in zip(state, tokens, strict=True)]
        return torch.stack([self.log_probs(c) for c in codes]), torch.tensor(codes)

    def all_hypotheses(self, max_len: int, end_token: int | None) -> list[tuple[list[int], float]]:
        """Every sequence beam search could return, with its exact score (brute force)."""
        out = []

        def walk(code: int, tokens: list[int], score: float) -> None:
            if len(tokens) == max_len or (tokens and tokens[-1] == end_token):
                out.append((tokens, score))
                return
            lp = self.log_probs(code)
            for tok in range(self.vocab):
                walk(self.extend(code, tok), [*tokens, tok], score + float(lp[tok]))

        walk(self.extend(0, 0), [], 0.0)
        return out


def test_sequences_of_all_lengths_are_enumerated_correctly() -> None:
    model = TableModel(3, seed=0)
    hyps = model.all_hypotheses(3, end_token=None)
    assert sorted(h for h, _ in hyps) == [list(p) for p in itertools.product(range(3), repeat=3)]
    # probabilities of all complete hypotheses sum to one, with or without an end token
    assert sum(np.exp(s) for _, s in hyps) == pytest.approx(1.0)
    assert sum(np.exp(s) for _, s in model.all_hypotheses(4, end_token=2)) == pytest.approx(1.0)


@pytest.mark.parametrize(("vocab", "max_len", "end_token"), [(3, 4, None), (4, 3, None), (3, 4, 1)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_width_beam_equals_brute_force(
    vocab: int, max_len: int, end_token: int | None, seed: int
) -> None:
    model = TableModel(vocab, seed)
    brute = sorted(model.all_hypotheses(max_len, end_token), key=lambda h: -h[1])
    width = vocab**max_len
    result = beam_search(
        model.step, torch.tensor([0]), 0, beam_width=width, max_len=max_len, end_token=end_token
    )
    assert len(result.sequences) == len(brute)
    np.testing.assert_allclose(result.scores, [s for _, s in brute], rtol=0, atol=1e-12)
    assert result.sequences[0] == brute[0][0]
    # every returned score is that sequence's true score
    truth = {tuple(h): s for h, s in brute}
    for seq, score in zip(result.sequences, result.scores, strict=True):
        assert score == pytest.approx(truth[tuple(seq)], abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_narrow_beams_never_beat_brute_force_and_greedy_is_width_one(seed: int) -> None:
    model = TableModel(4, seed)
    best = max(s for _, s in model.all_hypotheses(4, end_token=None))
    for width in (1, 2, 3, 5, 16):
        result = beam_search(model.step, torch.tensor([0]), 0, beam_width=width, max_len=4)
        assert len(result.sequences) == width
        assert result.scores == sorted(result.scores, reverse=True)
        assert result.scores[0] <= best + 1e-12
    # greedy_decode against an explicit argmax loop
    code, tokens, total = model.extend(0, 0), [], 0.0
    for _ in range(4):
        lp = model.log_probs(code)
        tok = int(lp.argmax())
        tokens.append(tok)
        total += float(lp[tok])
        code = model.extend(code, tok)
    seq, score = greedy_decode(model.step, torch.tensor([0]), 0, max_len=4)
    assert seq == tokens and score == pytest.approx(total, abs=1e-12)


def test_beam_search_beats_greedy_somewhere() -> None:
    # Not a property of every model; over a few random ones a width-3 beam must win at least once,
    # otherwise the beam is not really exploring.
    wins = 0
    for seed in range(10):
        model = TableModel(4, seed)
        _, greedy = greedy_decode(model.step, torch.tensor([0]), 0, max_len=4)
        beam = beam_search(model.step, torch.tensor([0]), 0, beam_width=3, max_len=4).scores[0]
        assert beam >= greedy - 1e-12
        wins += beam > greedy + 1e-9
    assert wins > 0


def test_tree_records_the_kept_paths() -> None:
    model = TableModel(3, seed=4)
    result = beam_search(model.step, torch.tensor([0]), 0, beam_width=2, max_len=4, end_token=2)
    nodes = {n.id: n for n in result.tree}
    assert result.tree[0].parent == -1 and result.tree[0].token == 0
    for step in range(1, 5):
        assert sum(n.step == step for n in result.tree) <= 2
    for node in result.tree[1:]:
        parent = nodes[node.parent]
        assert parent.step == node.step - 1 and not parent.finished
        assert node.score <= parent.score + 1e-12
        assert node.finished == (node.token == 2 or node.step == 4)
    # each returned sequence is a root-to-leaf path of the tree with the same score
    leaves = {}
    for node in result.tree:
        if node.finished:
            path, n = [], node
            while n.parent != -1:
                path.append(n.token)
                n = nodes[n.parent]
            leaves[tuple(reversed(path))] = node.score
    for seq, score in zip(result.sequences, result.scores, strict=True):
        assert leaves[tuple(seq)] == score


def test_end_token_stops_a_beam_and_is_kept() -> None:
    # A model that always prefers token 1 (the end token) first: greedy stops after one token.
    def step(tokens: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        lp = torch.log(torch.tensor([[0.3, 0.7]])).expand(len(tokens), 2)
        return lp, state

    seq, score = greedy_decode(step, None, 0, max_len=5, end_token=1)
    assert seq == [1] and score == pytest.approx(np.log(0.7))
    result = beam_search(step, None, 0, beam_width=3, max_len=5, end_token=1)
    assert result.sequences == [[1], [0, 1], [0, 0, 1]]


def test_state_reordering_follows_the_beams() -> None:
    # The state is the prefix itself, in a (layers=1, K, L) layout like nn.LSTM's h, so a custom
    # reorder_state is needed; the log-probs depend on the whole prefix, so a beam that received
    # another beam's state would get a score that its own tokens do not give.
    def step(tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new_state = torch.cat([state, tokens.view(1, -1, 1).double()], dim=-1)
        weights = torch.arange(1, new_state.shape[-1] + 1, dtype=torch.float64)
        code = (new_state[0] * weights).sum(-1)
        return torch.log_softmax(torch.sin(code[:, None] * torch.arange(1.0, 4.0)), -1), new_state

    def reorder(state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        assert state.shape[0] == 1  # the beams are on dim 1 here
        return state[:, index]

    start = torch.zeros(1, 1, 0, dtype=torch.float64)
    result = beam_search(step, start, 0, beam_width=3, max_len=4, reorder_state=reorder)
    for seq, score in zip(result.sequences, result.scores, strict=True):
        state, total, fed = start, 0.0, 0
        for tok in seq:
            lp, state = step(torch.tensor([fed]), state)
            total += float(lp[0, tok])
            fed = tok
        assert score == pytest.approx(total, abs=1e-12)


def test_select_beams_handles_nested_states() -> None:
    state = {"h": (torch.arange(3), [torch.arange(6).view(3, 2)]), "none": None}
    out = select_beams(state, torch.tensor([2, 2, 0]))
    assert out["h"][0].tolist() == [2, 2, 0]
    assert out["h"][1][0].tolist() == [[4, 5], [4, 5], [0, 1]]
    assert out["none"] is None
    with pytest.raises(TypeError, match="reorder_state"):
        select_beams(object(), torch.tensor([0]))


def test_beam_search_validates() -> None:
    model = TableModel(3, 0)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(model.step, torch.tensor([0]), 0, beam_width=0, max_len=3)
    with pytest.raises(ValueError, match="max_len"):
        beam_search(model.step, torch.tensor([0]), 0, beam_width=2, max_len=0)

    def bad_step(tokens: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        return torch.zeros(3), state

    with pytest.raises(ValueError, match=r"step_fn returned log_probs of shape \(3,\)"):
        beam_search(bad_step, None, 0, beam_width=2, max_len=3)


@pytest.mark.gpu
def test_beam_search_with_a_gpu_model_matches_cpu() -> None:
    table = torch.log_softmax(torch.randn(5, 5, generator=torch.Generator().manual_seed(0)), -1)

    def run(device: str) -> tuple[list[list[int]], list[float]]:
        weights = table.to(device)

        def step(tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            assert tokens.device.type == device == state.device.type
            return weights[tokens] + 0.1 * state[:, None], state + 1

        result = beam_search(step, torch.zeros(1, device=device), 0, beam_width=3, max_len=4)
        return result.sequences, result.scores

    cpu_seqs, cpu_scores = run("cpu")
    gpu_seqs, gpu_scores = run("cuda")
    assert gpu_seqs == cpu_seqs
    np.testing.assert_allclose(gpu_scores, cpu_scores, rtol=0, atol=1e-5)
