"""Checks for exercise 07, sequence models in practice (references: :mod:`course_lib.decoding`,
:mod:`.bptt`, :mod:`.gradients`, :mod:`.shapes`).

Parts (all PyTorch): ``sample_next`` (temperature, top-k, seeded), ``beam_search`` (over a bigram
table), ``tbptt_epoch`` (a training pass with truncated BPTT and clipping, on :class:`TinyLM`)
and ``many_to_one_logits`` (a classifier head on the last valid step of a padded batch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .. import bptt, decoding, shapes
from ..models import TinyLM
from .assignment import Assignment
from .check import Case, Check, Variant
from .variants import transpose, with_inputs, with_output

F64 = torch.float64

# -------------------------------------------------------------------------------- sample_next


def _sample(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, seed: int = 0
) -> Tensor:
    return decoding.sample_next(logits, temperature=temperature, top_k=top_k, seed=seed)


def _logits_case(**options: Any):
    """200 rows of 8 logits (spread ~2): enough draws that a wrong distribution shows."""

    def make(gen: torch.Generator) -> Case:
        seed = int(torch.randint(0, 2**31 - 1, (), generator=gen))
        logits = 2.0 * torch.randn(200, 8, generator=gen, dtype=F64)
        return Case({"logits": logits}, {**options, "seed": seed})

    return make


def _zero_outside_top_k(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, seed: int = 0
) -> Tensor:
    kept = torch.zeros_like(logits, dtype=torch.bool)
    kept.scatter_(-1, torch.topk(logits, top_k, dim=-1).indices, True)
    return _sample(logits.where(kept, 0.0), temperature, None, seed)


def _softmax_over_batch(
    logits: Tensor, temperature: float = 1.0, top_k: int | None = None, seed: int = 0
) -> Tensor:
    """Drawn as the reference draws (same masking, same seeded generator, one multinomial over
    the rows), but from a softmax taken down each column, over the batch."""
    generator = torch.Generator(device=logits.device).manual_seed(seed)
    if top_k is not None:
        kept = torch.topk(logits, top_k, dim=-1).indices
        logits = torch.full_like(logits, float("-inf")).scatter(-1, kept, logits.gather(-1, kept))
    probs = torch.softmax(logits / temperature, dim=0)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


_SAMPLE_VARIANTS = (
    with_inputs(
        _sample,
        "the logits were multiplied by the temperature; divide them: softmax(logits / T)",
        temperature=lambda t: 1.0 / t,
    ),
    Variant(
        "only the likeliest token can come out, as if the argmax were taken instead of "
        "sampling (temperature 0), or top-k kept a single token",
        lambda logits, temperature=1.0, top_k=None, seed=0: logits.argmax(-1),
    ),
    Variant(
        "the softmax was taken over the batch axis (dim=0), so each row's probabilities "
        "are wrong; take it over the vocabulary, dim=-1",
        _softmax_over_batch,
    ),
    with_inputs(
        _sample,
        "the temperature was applied to the probabilities after the softmax, "
        "where it has no effect (sampling renormalises them); divide the logits "
        "before it: softmax(logits / T)",
        temperature=1.0,
    ),
)
_TOP_K_VARIANTS = (
    with_inputs(_sample, "top_k was ignored: keep only the k largest logits", top_k=None),
    Variant(
        "the logits outside the top k were set to 0, which still gives them probability; "
        "set them to -inf",
        _zero_outside_top_k,
    ),
    with_inputs(_sample, "off by one: k - 1 tokens were kept", top_k=lambda k: k - 1),
)
SAMPLE_NEXT = (
    Check("temperature 1, all tokens", _sample, _logits_case(temperature=1.0), _SAMPLE_VARIANTS),
    Check("temperature 0.5 (sharper)", _sample, _logits_case(temperature=0.5), _SAMPLE_VARIANTS),
    Check(
        "temperature 2 with top_k=3",
        _sample,
        _logits_case(temperature=2.0, top_k=3),
        _SAMPLE_VARIANTS + _TOP_K_VARIANTS,
    ),
)

# -------------------------------------------------------------------------------- beam_search


def _beam(log_P: Tensor, start_token: int, beam_width: int, max_len: int):
    """Beam search over the bigram model ``log p(next | last) = log_P[last, next]``."""
    result = decoding.beam_search(
        lambda tokens, state: (log_P[tokens], state),
        None,
        start_token,
        beam_width=beam_width,
        max_len=max_len,
    )
    return result.sequences, result.scores


def _tie_at_a_cut(log_P: Tensor, start_token: int, beam_width: int, max_len: int) -> bool:
    """Whether some step's ``beam_width``-th and next best candidates score the same. Paths
    through the same transitions in another order score exactly alike, and which of them is
    kept is then a matter of sort order: a right answer could differ from the reference's."""
    table = log_P.tolist()
    beams = [(0.0, start_token)]  # (score, last token)
    for _ in range(max_len):
        pool = sorted(
            ((score + p, token) for score, last in beams for token, p in enumerate(table[last])),
            reverse=True,
        )
        if len(pool) > beam_width and pool[beam_width - 1][0] - pool[beam_width][0] < 1e-9:
            return True
        beams = pool[:beam_width]
    return False


def _bigram_case(beam_width: int, max_len: int, vocab: int = 5):
    """A random bigram table and start token, drawn again while a tie decides what is kept."""

    def make(gen: torch.Generator) -> Case:
        while True:
            log_P = torch.log_softmax(1.5 * torch.randn(vocab, vocab, generator=gen, dtype=F64), 1)
            start = int(torch.randint(0, vocab, (), generator=gen))
            if not _tie_at_a_cut(log_P, start, beam_width, max_len):
                return Case(
                    {
                        "log_P": log_P,
                        "start_token": start,
                        "beam_width": beam_width,
                        "max_len": max_len,
                    }
                )

    return make


def _keep_least_likely(log_P: Tensor, start_token: int, beam_width: int, max_len: int):
    """Sorted ascending: the ``beam_width`` *least* likely candidates kept at every step, least
    likely first. That is the reference run on ``-log_P``, with the scores negated back."""
    sequences, scores = _beam(-log_P, start_token, beam_width, max_len)
    return sequences, [-score for score in scores]


def _no_global_sort(log_P: Tensor, start_token: int, beam_width: int, max_len: int):
    """Each beam's children sorted and cut to beam_width on their own, then the first
    beam_width of the concatenation kept, with no sort over all candidates together."""
    beams = [([int(start_token)], 0.0)]
    for _ in range(max_len):
        candidates = []
        for tokens, score in beams:
            children = [
                (tokens + [token], score + float(log_P[tokens[-1], token]))
                for token in range(log_P.shape[1])
            ]
            children.sort(key=lambda child: child[1], reverse=True)
            candidates += children[:beam_width]
        beams = candidates[:beam_width]
    return [tokens[1:] for tokens, _ in beams], [score for _, score in beams]


def _shared_token_list(log_P: Tensor, start_token: int, beam_width: int, max_len: int):
    """Every extension appends to its parent's token list instead of copying it, so the
    hypotheses share lists that grow by one token per candidate made (and each score reads
    the token appended just before as the last one)."""
    beams = [([int(start_token)], 0.0)]
    for _ in range(max_len):
        candidates = []
        for tokens, score in beams:
            for token in range(log_P.shape[1]):
                candidates.append((tokens, score + float(log_P[tokens[-1], token])))
                tokens.append(token)
        candidates.sort(key=lambda candidate: candidate[1], reverse=True)
        beams = candidates[:beam_width]
    return [tokens[1:] for tokens, _ in beams], [score for _, score in beams]


# Mistakes that show at any beam width, greedy decoding included.
_BEAM_VARIANTS = (
    with_output(
        _beam,
        "the start token is included in the sequences; return only the tokens generated after it",
        lambda out, a: ([[a["start_token"], *s] for s in out[0]], out[1]),
    ),
    with_inputs(_beam, "off by one: max_len - 1 tokens were generated", max_len=lambda m: m - 1),
    with_inputs(
        _beam,
        "the bigram table was read transposed, as log_P[next, last]; the row is "
        "the last token: log_P[last, next]",
        log_P=transpose,
    ),
    Variant(
        "the candidates were sorted in ascending order (reverse=True is missing), so the "
        "least likely beams were kept; sort them best first",
        _keep_least_likely,
    ),
    Variant(
        "the hypotheses share one token list: new_tokens = tokens; new_tokens.append(token) "
        "changes the parent's list for every candidate; make a new list, tokens + [token]",
        _shared_token_list,
    ),
)
# Mistakes that only show with more than one beam.
_WIDE_BEAM_VARIANTS = (
    with_inputs(
        _beam,
        "only the best extension was kept at each step (greedy decoding); keep the beam_width best",
        beam_width=1,
    ),
    with_output(
        _beam,
        "the hypotheses are not sorted best first",
        lambda out, a: (out[0][::-1], out[1][::-1]),
    ),
    Variant(
        "each beam's children were pruned to its own beam_width best and the first "
        "beam_width of the list kept, which are the best beam's children only; sort all "
        "candidates of all beams together, then keep the beam_width best",
        _no_global_sort,
    ),
)


def _ties_in_any_order(case: Case, result: Any) -> Any:
    """``(sequences, scores)`` with hypotheses of equal score sorted by sequence: two paths
    through the same transitions score exactly alike, and either order is right. Hypotheses
    of different scores keep their order, so an unsorted result still shows."""
    try:
        sequences, scores = result
        pairs = list(zip([list(map(int, s)) for s in sequences], map(float, scores), strict=True))
    except (TypeError, ValueError):
        return result
    ordered, start = [], 0
    for end in range(1, len(pairs) + 1):
        if end == len(pairs) or abs(pairs[end][1] - pairs[start][1]) > 1e-9:
            ordered += sorted(pairs[start:end])
            start = end
    return [s for s, _ in ordered], [score for _, score in ordered]


BEAM_SEARCH = (
    Check(
        "beam_width=3, max_len=4",
        _beam,
        _bigram_case(3, 4),
        _BEAM_VARIANTS + _WIDE_BEAM_VARIANTS,
        observe=_ties_in_any_order,
    ),
    Check(
        "beam_width=1 is greedy decoding, max_len=5",
        _beam,
        _bigram_case(1, 5),
        _BEAM_VARIANTS,
        observe=_ties_in_any_order,
    ),
    Check(
        "beam_width=9 = V ** max_len: exhaustive search",
        _beam,
        _bigram_case(9, 2, vocab=3),
        _BEAM_VARIANTS + _WIDE_BEAM_VARIANTS,
        observe=_ties_in_any_order,
    ),
)

# -------------------------------------------------------------------------------- tbptt_epoch


def _lm_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over every position of the chunk."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


class _PlainSGD:
    """Plain SGD written out, ``θ ← θ − lr · ∂L/∂θ``, as the notebook asks students to write it.

    With ``zero_grad=False`` the gradients are never cleared: what a loop without
    ``model.zero_grad()`` does.
    """

    def __init__(self, model: nn.Module, lr: float, *, zero_grad: bool = True) -> None:
        self.model, self.lr, self.clears = model, lr, zero_grad

    def zero_grad(self) -> None:
        if self.clears:
            self.model.zero_grad()

    @torch.no_grad()
    def step(self) -> None:
        for param in self.model.parameters():
            param -= self.lr * param.grad


def _tbptt(
    model: TinyLM,
    x: Tensor,
    y: Tensor,
    chunk_len: int,
    lr: float,
    max_norm: float,
    *,
    clip: bool = True,
    zero_grad: bool = True,
) -> float:
    optimizer = _PlainSGD(model, lr, zero_grad=zero_grad)
    clip_to = max_norm if clip else None
    return bptt.truncated_bptt_epoch(model, x, y, chunk_len, _lm_loss, optimizer, clip=clip_to)[0]


def _text_case(chunk_len: int):
    """A TinyLM with weights drawn from ``gen`` and a batch of 2 sequences of 6 tokens; the
    tiny max_norm makes sure clipping changes every update."""

    def make(gen: torch.Generator) -> Case:
        model = TinyLM()
        with torch.no_grad():
            for param in model.parameters():  # nn modules draw from the global RNG: redraw
                param.copy_(0.5 * torch.randn(param.shape, generator=gen, dtype=F64))
        tokens = torch.randint(0, 5, (2, 7), generator=gen)
        return Case(
            {
                "model": model,
                "x": tokens[:, :-1],
                "y": tokens[:, 1:],
                "chunk_len": chunk_len,
                "lr": 0.5,
                "max_norm": 0.05,
            }
        )

    return make


def _loss_and_weights(case: Case, result: Any) -> dict[str, Any]:
    """The returned mean loss and the model's parameters after the pass."""
    weights = {name: p.detach() for name, p in case.args["model"].named_parameters()}
    return {"mean loss": result, "parameters": weights}


def _weights(case: Case, result: Any) -> dict[str, Any]:
    """The model's parameters after the pass, without the mean loss: with a short last chunk
    the notebook's "mean of the chunk losses" and the mean over all steps (the reference's,
    chunks weighted by their length) differ, and either is a fair reading."""
    return {"parameters": _loss_and_weights(case, result)["parameters"]}


def _full_chunks_only(
    model: TinyLM, x: Tensor, y: Tensor, chunk_len: int, lr: float, max_norm: float
) -> float:
    """The pass over the whole chunks only: a shorter last chunk is never trained on."""
    full = x.shape[1] - x.shape[1] % chunk_len
    return _tbptt(model, x[:, :full], y[:, :full], chunk_len, lr, max_norm)


_TRAIN_VARIANTS = (
    Variant(
        "the gradients were clipped after the weight update (or not at all): clip between "
        "backward() and the update",
        lambda *a: _tbptt(*a, clip=False),
    ),
    Variant(
        "the gradients were not zeroed before each backward pass, so they accumulate over "
        "chunks: call model.zero_grad()",
        lambda *a: _tbptt(*a, zero_grad=False),
    ),
    with_inputs(
        _tbptt,
        "the parameters were never updated: p = p - lr * p.grad makes a new "
        "tensor and only rebinds the name p; change the parameter in place, "
        "p -= lr * p.grad (under torch.no_grad())",
        lr=0.0,
    ),
    Variant(
        "the short last chunk was skipped (only full chunks of chunk_len steps were made); "
        "train on it too: range(0, T, chunk_len), and the last slice is simply shorter",
        _full_chunks_only,
    ),
)
TBPTT_EPOCH = (
    Check(
        "chunks of 3 steps: mean loss and weights after the pass",
        _tbptt,
        _text_case(3),
        _TRAIN_VARIANTS,
        observe=_loss_and_weights,
    ),
    Check(
        "chunks of 2 steps: mean loss and weights after the pass",
        _tbptt,
        _text_case(2),
        _TRAIN_VARIANTS,
        observe=_loss_and_weights,
    ),
    Check(
        "chunks of 4 steps over 6 (a short last chunk): weights after the pass",
        _tbptt,
        _text_case(4),
        _TRAIN_VARIANTS,
        observe=_weights,
    ),
)

# ------------------------------------------------------------------------- many_to_one_logits


def _head(rnn: nn.RNNBase, head: nn.Linear, x: Tensor, lengths: Tensor) -> Tensor:
    return head(shapes.last_valid_step(rnn(x)[0], lengths))


def _padded_case(rnn_type: type[nn.RNNBase]):
    """4 post-padded sequences of up to 6 steps (one full length), a recurrent layer and a
    linear head to 3 classes, weights drawn from ``gen``."""

    def make(gen: torch.Generator) -> Case:
        rnn = rnn_type(3, 5, batch_first=True, dtype=F64)
        head = nn.Linear(5, 3, dtype=F64)
        with torch.no_grad():
            for param in [*rnn.parameters(), *head.parameters()]:
                param.copy_(0.5 * torch.randn(param.shape, generator=gen, dtype=F64))
        lengths = torch.randint(1, 6, (4,), generator=gen)
        lengths[int(torch.randint(0, 4, (), generator=gen))] = 6
        x = torch.randn(4, 6, 3, generator=gen, dtype=F64)
        x = x * shapes.lengths_to_mask(lengths, 6)[:, :, None]  # zeros at the padded steps
        return Case({"rnn": rnn, "head": head, "x": x, "lengths": lengths})

    return make


_HEAD_VARIANTS = (
    Variant(
        "the output at the last step T (outputs[:, -1], or h_n) was read; with post padding "
        "that is padding for every shorter sequence",
        lambda rnn, head, x, lengths: head(rnn(x)[0][:, -1]),
    ),
    Variant(
        "the output at the first step was read", lambda rnn, head, x, lengths: head(rnn(x)[0][:, 0])
    ),
    Variant(
        "the step at index lengths[b] was read (clamped to stay in bounds), which is the "
        "first padded step of every shorter sequence; the last real step is at lengths[b] - 1",
        lambda rnn, head, x, lengths: head(
            rnn(x)[0][torch.arange(len(x), device=x.device), lengths.clamp(max=x.shape[1] - 1)]
        ),
    ),
)
_HEAD_HINTS = (
    ("out of bounds", "off-by-one in time: sample b's last real step is at index lengths[b] - 1"),
    # (B x 1) into the head: features lost, as by gather with an index not expanded over them.
    (
        "x1 and ",
        "the head got 1 feature per sample instead of H: a gather index of shape "
        "(B, 1, 1) picks only feature 0; expand it over the features, "
        "(lengths - 1).view(-1, 1, 1).expand(-1, 1, H), or index "
        "outputs[torch.arange(B), lengths - 1]",
    ),
)
MANY_TO_ONE_LOGITS = (
    Check(
        "an nn.GRU and a linear head",
        _head,
        _padded_case(nn.GRU),
        _HEAD_VARIANTS,
        hints=_HEAD_HINTS,
    ),
    Check(
        "an nn.LSTM (its output is (output, (h_n, c_n))) and a linear head",
        _head,
        _padded_case(nn.LSTM),
        _HEAD_VARIANTS,
        hints=_HEAD_HINTS,
    ),
)

ASSIGNMENT = Assignment(
    "07_language_model",
    {
        "sample_next": SAMPLE_NEXT,
        "beam_search": BEAM_SEARCH,
        "tbptt_epoch": TBPTT_EPOCH,
        "many_to_one_logits": MANY_TO_ONE_LOGITS,
    },
)
#: What this module gives the notebook besides the checks (importable in the grading sandbox).
GIVEN = {"TinyLM": TinyLM}
check = ASSIGNMENT.check
grade = ASSIGNMENT.grade
