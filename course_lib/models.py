"""Small models and functions the exercises hand to students, to train or to differentiate.

Nothing here is a reference for a graded part, so these stay importable wherever a notebook
runs, the grading sandbox included (:mod:`course_lib.instructor.sandbox`). Each class can say how
to build an empty copy of itself (:meth:`constructor_arguments`): that is how an instance crosses
between the grader and a student's process, weights assigned afterwards
(:mod:`course_lib.grading.wire`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

F64 = torch.float64


def _redraw(module: nn.Module, generator: torch.Generator, scale: float = 0.5) -> None:
    """Replace every weight by ``scale · N(0, 1)`` drawn from ``generator`` (nn modules draw from
    the global RNG, which a test must not depend on)."""
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(scale * torch.randn(param.shape, generator=generator, dtype=param.dtype))


class TinyRNN(nn.Module):
    """``nn.RNN`` plus a linear read-out: ``model(x, state) -> (y_hat (B, T, 1), h_n)``.

    ``x`` is ``(B, T, input_size)``, ``state`` ``(1, B, hidden_size)`` or None; float64.
    """

    def __init__(
        self, input_size: int = 2, hidden_size: int = 4, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True, dtype=F64)
        self.head = nn.Linear(hidden_size, 1, dtype=F64)
        if generator is not None:
            _redraw(self, generator)

    def constructor_arguments(self) -> dict[str, Any]:
        return {"input_size": self.rnn.input_size, "hidden_size": self.rnn.hidden_size}

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, h_n = self.rnn(x, state)
        return self.head(out), h_n


class TinyLM(nn.Module):
    """A character language model small enough for a test cell: embedding → tanh RNN → linear.

    ``forward(x, state)``: ``x`` ``(B, T)`` token ids, ``state`` ``(1, B, H)`` or None; returns
    ``(logits (B, T, V), new_state (1, B, H))``.
    """

    def __init__(
        self,
        vocab: int = 5,
        embed: int = 4,
        hidden: int = 6,
        dtype: torch.dtype = F64,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, dtype=dtype)
        self.rnn = nn.RNN(embed, hidden, batch_first=True, dtype=dtype)
        self.out = nn.Linear(hidden, vocab, dtype=dtype)
        if generator is not None:
            _redraw(self, generator)

    def constructor_arguments(self) -> dict[str, Any]:
        return {
            "vocab": self.embed.num_embeddings,
            "embed": self.embed.embedding_dim,
            "hidden": self.rnn.hidden_size,
        }

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outputs, state = self.rnn(self.embed(x), state)
        return self.out(outputs), state


class Smooth(nn.Module):
    """A smooth scalar function ``f(x) = Σ tanh(x A) ⊙ C + ½ Σ s ⊙ x²`` for gradient checks.

    ``x`` has ``shape``; ``A`` is ``(shape[-1], 3)``, ``C`` ``(*shape[:-1], 3)``, ``s`` ``shape``
    (zeros, or drawn from ``generator``). Called with a numpy array it computes in numpy and
    returns a float, so a numpy ``numerical_gradient`` can use it; with a tensor, in torch.
    """

    def __init__(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.shape = tuple(int(n) for n in shape)
        self.A = nn.Parameter(torch.zeros(self.shape[-1], 3, dtype=F64), requires_grad=False)
        self.C = nn.Parameter(torch.zeros(*self.shape[:-1], 3, dtype=F64), requires_grad=False)
        self.s = nn.Parameter(torch.zeros(*self.shape, dtype=F64), requires_grad=False)
        if generator is not None:
            with torch.no_grad():
                for param in (self.A, self.C, self.s):
                    param.copy_(torch.randn(param.shape, generator=generator, dtype=F64))

    def constructor_arguments(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def forward(self, x: Tensor | np.ndarray) -> Tensor | float:
        if isinstance(x, np.ndarray):
            A, C, s = (p.detach().cpu().numpy() for p in (self.A, self.C, self.s))
            return float(np.sum(np.tanh(x @ A) * C) + 0.5 * np.sum(s * x**2))
        return (torch.tanh(x @ self.A) * self.C).sum() + 0.5 * (self.s * x**2).sum()
