"""How well the visible test cells explain mistakes: the course's feedback, scored.

Every mistake of ``solutions/*/mistakes.py`` (declared) and ``solutions/*/student_mistakes.py``
(made by students, listed nowhere else) is planted in its exercise's solution; the part's
visible test cell runs as in JupyterLab, and its first message is scored: 2 names the mistake
(it contains the mistake's ``expect`` phrase), 1 points the way (a checker's sentence about what
is wrong and where), 0 bare (an assertion without a message, or nothing), −1 misleading (it names
another mistake). The hidden grading runs too, on three seeds: a mistake it gives full marks on
every seed is *uncaught*.

Usage: ``python bench/feedback_scores.py [--details]`` (about a minute); prints one table per
kind of mistake and, with ``--details``, each mistake's score and message.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _mistakes import feedback_score, hidden_earned, mistakes, run_visible  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--details", action="store_true", help="one line per mistake")
    details = parser.parse_args().details
    warnings.simplefilter("ignore")
    for kind in ("declared", "student"):
        rows: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for mistake in mistakes(kind):
            outcome = run_visible(mistake.exercise, mistake.part, mistake)
            score = feedback_score(outcome, mistake)
            earned = hidden_earned(mistake.exercise, mistake)
            rows[mistake.exercise].append((score, earned))
            if details:
                first = outcome.message.split("\n")
                said = " / ".join(line.strip() for line in first[:3])[:220]
                print(
                    f"{score:>2} {earned:4.2f} {mistake.exercise[:2]} {mistake.part}:"
                    f"{mistake.label}  {said}"
                )
        every = [r for rs in rows.values() for r in rs]
        print(f"\n{kind} mistakes ({len(every)}): visible-cell feedback score, 2 = names it")
        print(
            "| exercise | mistakes | mean score | named (2) | bare or silent (0) | "
            "misleading (−1) | uncaught by hidden tests |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for exercise, rs in [*sorted(rows.items()), ("all", every)]:
            scores = [s for s, _ in rs]
            print(
                f"| {exercise} | {len(rs)} | {statistics.mean(scores):.2f} | "
                f"{scores.count(2)} | {scores.count(0)} | {scores.count(-1)} | "
                f"{sum(e >= 1 for _, e in rs)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
