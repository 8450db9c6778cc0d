"""A small character-level LSTM language model of Shakespeare, trained on the CPU.

The text (a few of the plays shipped with ``course_lib``) is cut into ``B`` parallel streams;
training walks along them in chunks of ``chunk`` characters with truncated BPTT
(:func:`course_lib.bptt.truncated_bptt_epoch`: the state is carried from chunk to chunk and
detached at each boundary, one Adam update per chunk, gradients clipped by global norm). The last
5% of the text is held out for a validation loss. Afterwards the script samples from the model
at several temperatures and with top-k (:func:`course_lib.decoding.sample_next`), and runs a beam
search from a prompt (:func:`course_lib.decoding.beam_search`), saving its tree for the chapter's
figure. It saves samples and curves, not the weights. The LSTM is the course's own
(course_lib.layers.LSTM); ``--impl torch`` uses torch.nn.LSTM instead (faster, same function).

Run from the repository root (two to three minutes on one CPU core)::

    .venv/bin/python book/experiments/char_lm.py
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make `book.experiments` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from book.experiments.common import (  # noqa: E402
    IMPLEMENTATIONS,
    Recurrent,
    markdown_table,
    setup,
    write_results,
)
from course_lib.bptt import truncated_bptt_epoch  # noqa: E402
from course_lib.data import CharVocab, load_shakespeare  # noqa: E402
from course_lib.decoding import beam_search, sample_next  # noqa: E402
from course_lib.params import count_module_params  # noqa: E402

PLAYS = ["hamlet", "macbeth", "romeo-and-juliet", "othello"]


class CharLSTM(nn.Module):
    """Embedding → stacked LSTM → linear: ``(B, T)`` character ids → ``(B, T, V)`` logits."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, impl: str) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = Recurrent("lstm", embed, hidden, impl, num_layers=layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        outputs, state = self.rnn(self.embed(ids), state)
        return self.head(outputs), state


def streams(ids: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """Cut a long id sequence into ``batch`` contiguous streams: inputs and next-char targets,
    each ``(batch, L)``; stream b continues where it left off from one chunk to the next."""
    length = (len(ids) - 1) // batch
    x = ids[: batch * length].view(batch, length)
    y = ids[1 : batch * length + 1].view(batch, length)
    return x, y


def next_char_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per character) over every position of the chunk."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def evaluate(model: CharLSTM, x: Tensor, y: Tensor, chunk: int) -> float:
    """Validation loss in nats per character, carrying the state across chunks like training."""
    model.eval()
    total, state = 0.0, None
    with torch.no_grad():
        for xc, yc in zip(x.split(chunk, 1), y.split(chunk, 1), strict=True):
            logits, state = model(xc, state)
            total += next_char_loss(logits, yc).item() * xc.shape[1]
    model.train()
    return total / x.shape[1]


def generate(
    model: CharLSTM, vocab: CharVocab, prompt: str, length: int, seed: int, **sampling: Any
) -> str:
    """Feed the prompt, then sample ``length`` characters one at a time, feeding each back."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        logits, state = model(vocab.encode(prompt)[None], None)
        out = []
        for _ in range(length):
            token = sample_next(logits[0, -1], generator=generator, **sampling)
            out.append(int(token))
            logits, state = model(token.view(1, 1), state)
    return prompt + vocab.decode(out)


def beam_tree(model: CharLSTM, vocab: CharVocab, prompt: str, width: int, length: int) -> dict:
    """Beam search for the likeliest ``length``-character continuations of ``prompt``."""
    model.eval()
    with torch.no_grad():
        logits, state = model(vocab.encode(prompt[:-1])[None], None)

        def step(tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
            logits, state = model(tokens[:, None], state)
            return torch.log_softmax(logits[:, -1], -1), state

        def by_beam(state: Any, index: Tensor) -> Any:
            # nn.LSTM's (h, c) are (layers, K, H): the beams sit on dim 1, not on dim 0.
            return tuple(t[:, index] for t in state)

        start = vocab.index[prompt[-1]]
        result = beam_search(
            step, state, start, beam_width=width, max_len=length, reorder_state=by_beam
        )
        greedy = beam_search(
            step, state, start, beam_width=1, max_len=length, reorder_state=by_beam
        )
    return {
        "prompt": prompt,
        "beam_width": width,
        "max_len": length,
        "best": [
            {"text": vocab.decode(seq), "log_prob": score}
            for seq, score in zip(result.sequences, result.scores, strict=True)
        ],
        "greedy": {"text": vocab.decode(greedy.sequences[0]), "log_prob": greedy.scores[0]},
        "tree": [{**node._asdict(), "char": vocab.chars[node.token]} for node in result.tree],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plays", nargs="+", default=PLAYS)
    parser.add_argument("--embed", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=64, help="truncated-BPTT length")
    parser.add_argument("--chunks", type=int, default=600, help="training updates")
    parser.add_argument("--log-every", type=int, default=10, help="chunks per loss-curve point")
    parser.add_argument("--eval-every", type=int, default=100, help="chunks between val losses")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, default="course")
    args = parser.parse_args(argv)

    setup(args.seed)
    text = load_shakespeare(args.plays)
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    split = int(0.95 * len(ids))
    x_train, y_train = streams(ids[:split], args.batch)
    x_val, y_val = streams(ids[split:], args.batch)
    model = CharLSTM(vocab.size, args.embed, args.hidden, args.layers, args.impl)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    # Walk along the streams one segment of log_every chunks at a time (wrapping round at the
    # end: another epoch), carrying the state, so the loss curve gets a point per segment.
    segment = args.chunk * args.log_every
    curve, state, done, position = [], None, 0, 0
    start = time.perf_counter()
    bar = tqdm(total=args.chunks, desc="char LSTM", unit="chunk")
    while done < args.chunks:
        if position + segment > x_train.shape[1]:
            position, state = 0, None  # a new epoch starts from a fresh state
        xs, ys = (t[:, position : position + segment] for t in (x_train, y_train))
        loss, state = truncated_bptt_epoch(
            model, xs, ys, args.chunk, next_char_loss, optimizer, clip=args.clip, state=state
        )
        position += segment
        done += args.log_every
        point = {
            "chunk": done,
            "characters": done * args.chunk * args.batch,
            "train_loss": loss,
            "seconds": time.perf_counter() - start,
        }
        if done % args.eval_every == 0 or done >= args.chunks:
            point["val_loss"] = evaluate(model, x_val, y_val, args.chunk)
        curve.append(point)
        bar.update(args.log_every)
        bar.set_postfix(loss=f"{loss:.3f}", val=f"{point.get('val_loss', float('nan')):.3f}")
    bar.close()
    seconds = time.perf_counter() - start

    prompt = "ROMEO:\n"
    settings = [
        ("T = 0.5", {"temperature": 0.5}),
        ("T = 1.0", {"temperature": 1.0}),
        ("T = 1.5", {"temperature": 1.5}),
        ("T = 1.0, top-k 5", {"top_k": 5}),
        ("greedy (T = 0)", {"temperature": 0}),
    ]
    samples = [
        {"setting": name, **kw, "text": generate(model, vocab, prompt, 300, args.seed, **kw)}
        for name, kw in settings
    ]
    beams = beam_tree(model, vocab, "HAMLET:\nTo be", width=4, length=12)

    val = curve[-1]["val_loss"]
    summary = {
        "text_characters": len(text),
        "vocab_size": vocab.size,
        "train_characters": split,
        "val_characters": len(ids) - split,
        "characters_seen": curve[-1]["characters"],
        "epochs": curve[-1]["characters"] / (x_train.numel()),
        "params": count_module_params(model),
        "layer": model.rnn.describe(),
        "final_train_loss": curve[-1]["train_loss"],
        "final_val_loss": val,
        "final_val_bits_per_char": val / math.log(2),
        "uniform_guess_loss": math.log(vocab.size),
        "seconds": seconds,
    }
    table = markdown_table(
        [
            {"what": key.replace("_", " "), "value": f"{v:.3f}" if isinstance(v, float) else v}
            for key, v in summary.items()
        ],
        {"what": "", "value": "value"},
    )
    table += (
        f"\n{args.layers}-layer LSTM, {args.hidden} units, embedding {args.embed}, on "
        f"{', '.join(args.plays)}; {args.batch} streams, truncated BPTT over {args.chunk} "
        f"characters, {args.chunks} Adam updates (lr {args.lr}), global-norm clipping at "
        f"{args.clip}, seed {args.seed}; losses in nats per character (uniform guessing = "
        f"ln V = {math.log(vocab.size):.2f}); one CPU thread.\n"
    )
    for sample in samples:
        table += f"\n**{sample['setting']}**\n\n```text\n{sample['text']}\n```\n"
    table += f"\n**Beam search** (width {beams['beam_width']}) after `{beams['prompt']!r}`:\n\n"
    table += "\n".join(f"- `{b['text']!r}` (log-prob {b['log_prob']:.2f})" for b in beams["best"])
    table += (
        f"\n- greedy: `{beams['greedy']['text']!r}` (log-prob {beams['greedy']['log_prob']:.2f})\n"
    )
    write_results(
        "char_lm",
        {
            "settings": vars(args),
            "summary": summary,
            "curve": curve,
            "samples": samples,
            "beam_search": beams,
        },
        table,
    )


if __name__ == "__main__":
    main()
