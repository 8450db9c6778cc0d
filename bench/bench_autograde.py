"""`course autograde` against plain `nbgrader autograde` on the same class, in one run.

Builds a class of torch-importing submissions (correct, partial and blank, in the proportions of
a real class; no hanging ones, which would only measure the time limit), copies the class
directory twice, grades one copy with each tool from a cold start (a fresh process each), checks
that both gave the same scores, and prints:

    students, impl, seconds, notebooks/s, ratio (throughput / nbgrader's), peak RSS of the
    largest process

for each class size (``--students 16 64``: the peak should not grow with the class), then where
one notebook's grading time goes in `course autograde` (the mean of each stage over the largest
class, from the records' ``stages``), also saved as bench/results/autograde.md, which the
book's benchmarks page shows. The two tools run one after the other in the same run, so their
ratio sees about the same load.

Peak RSS is sampled every 0.1 s over the tool's whole process tree; for `course` the largest
process is a sandbox worker (zygote or the child running a notebook), for nbgrader the kernel.

    .venv/bin/python bench/bench_autograde.py [--students 16 64] [--assignment 01_sequence_shapes]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from course_lib.instructor import autograde as grading
from course_lib.instructor import demo
from course_lib.instructor.autograde import load_record
from course_lib.instructor.course import PROJECT_ROOT, Course

FIXTURES = PROJECT_ROOT / "tests" / "instructor_fixtures"
KINDS = ["correct", "correct", "partial", "correct", "blank", "partial", "correct", "correct"]


def tree_rss_peak(root_pid: int, stop: threading.Event, peaks: dict[str, int]) -> None:
    """Sample the RSS of every process descending from ``root_pid`` until ``stop``."""
    while not stop.is_set():
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        stack, seen = [root_pid], []
        while stack:
            pid = stack.pop()
            seen.append(pid)
            stack.extend(children.get(pid, []))
        biggest = max((rss.get(p, 0) for p in seen), default=0)
        peaks["max_process"] = max(peaks.get("max_process", 0), biggest)
        stop.wait(0.1)


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Run ``cmd``; return (seconds, peak RSS in bytes of its largest process)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    stop, peaks = threading.Event(), {}
    sampler = threading.Thread(target=tree_rss_peak, args=(process.pid, stop, peaks))
    sampler.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{err.decode()[-3000:]}")
    return seconds, peaks.get("max_process", 0)


def nbgrader_scores(course: Course, assignment: str, students: list[str]) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        return {s: gb.find_submission(assignment, s).score for s in students}


def grade_class(solutions: Path, assignment: str, n: int, work: Path) -> tuple[dict, dict]:
    """Grade ``n`` students with both tools; return ({impl: (seconds, rss)}, {student: record})."""
    base = Course(work / "class", solutions=solutions)
    base.setup([assignment])
    kinds = {f"s{i:03d}": KINDS[i % len(KINDS)] for i in range(n)}
    expected = demo.make_submissions(base, assignment, kinds)
    copies = {}
    for impl in ("course", "nbgrader"):
        shutil.copytree(base.root, work / f"class-{impl}")
        copies[impl] = Course(work / f"class-{impl}", solutions=solutions)
    config = copies["nbgrader"].config()
    cd = config.CourseDirectory
    # nbgrader with the project's config, not the class directory's (which refuses it)
    plain = [
        sys.executable,
        "-m",
        "nbgrader",
        "autograde",
        assignment,
        "--force",
        f"--CourseDirectory.root={cd.root}",
        f"--CourseDirectory.db_url={cd.db_url}",
        f"--CourseDirectory.course_id={cd.course_id}",
        f"--Exchange.root={config.Exchange.root}",
        "--log-level=WARN",
    ]
    (copies["nbgrader"].root / "nbgrader_config.py").unlink()
    ours = [
        sys.executable,
        "-m",
        "course_lib.instructor.cli",
        "--course-dir",
        str(copies["course"].root),
        "--solutions",
        str(solutions),
        "autograde",
        assignment,
    ]
    # the solution's measurement is made once per assignment version: not part of the class
    grading.measured_solution(copies["course"], assignment)
    results = {
        "nbgrader": timed(plain, copies["nbgrader"].root),
        "course": timed(ours, copies["course"].root),
    }
    theirs = nbgrader_scores(copies["nbgrader"], assignment, list(kinds))
    records = {s: load_record(copies["course"], assignment, s) for s in kinds}
    for student, want in expected.items():
        record = records[student]
        assert record.score == want.score == theirs[student], (student, record, theirs)
    return results, records


def breakdown(records: dict) -> list[str]:
    """The mean seconds of each stage of one notebook's grading, and its share."""
    totals: dict[str, float] = {}
    for record in records.values():
        for stage, seconds in record.stages.items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    n, whole = len(records), sum(totals.values())
    lines = [
        "| stage (one notebook, in one grader process) | mean seconds | share |",
        "|---|---:|---:|",
    ]
    for stage, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        lines.append(f"| {stage} | {seconds / n:.3f} | {seconds / whole:.0%} |")
    lines.append(f"| **total** | **{whole / n:.3f}** | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--assignment", default="01_sequence_shapes")
    args = parser.parse_args()
    solutions = PROJECT_ROOT / "solutions"
    if not (solutions / args.assignment).is_dir():
        print(f"{args.assignment} not in solutions/: using the test fixture 00_mini")
        solutions, args.assignment = FIXTURES, "00_mini"
    workers = grading.usable_cores()
    lines = [
        f"Submissions of `{args.assignment}` (torch-importing), {os.cpu_count()} CPUs, "
        f"`course autograde` with its default {workers} workers; both tools gave every "
        "student the same score.",
        "",
        "| students | impl | seconds | notebooks/s | ratio | peak RSS of one process |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    records: dict = {}
    for n in args.students:
        work = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
        try:
            results, records = grade_class(solutions, args.assignment, n, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        base_rate = n / results["nbgrader"][0]
        for impl in ("nbgrader", "course"):
            seconds, rss = results[impl]
            rate = n / seconds
            lines.append(
                f"| {n} | {impl} | {seconds:.1f} | {rate:.2f} | "
                f"{rate / base_rate:.2f} | {rss / 2**20:.0f} MiB |"
            )
    lines += [
        "",
        f"Load average {os.getloadavg()[0]:.1f} at the end. Where the time of one "
        f"notebook goes ({max(args.students)} students; the grader processes work in "
        "parallel, so a class takes about total × students / workers):",
        "",
        *breakdown(records),
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "autograde.md").write_text(table)


if __name__ == "__main__":
    main()
