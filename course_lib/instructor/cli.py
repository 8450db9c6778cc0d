"""The ``course`` command: an instructor's whole grading workflow on top of nbgrader.

    course setup [ASSIGNMENT ...]          solutions/ -> source/, then nbgrader generate_assignment
    course release ASSIGNMENT              nbgrader release_assignment (to the exchange)
    course collect ASSIGNMENT [--from PATH] [--map CSV]
                                           nbgrader collect, or import an LMS folder / zip
    course autograde ASSIGNMENT            sandboxed, parallel, resumable autograding
    course feedback ASSIGNMENT             feedback HTML (hidden tests removed, maths offline)
    course release-feedback ASSIGNMENT     to the exchange, for students' nbgrader fetch_feedback
    course grades ASSIGNMENT [-o CSV]      the grades table, plus import files for Canvas / Moodle
    course clear ASSIGNMENT STUDENT        count a tampered submission's withheld points
    course formgrader [--port N]           JupyterLab with nbgrader's formgrader on this class

Every command takes ``--course-dir`` (default ``./course``, or $COURSE_DIR), ``--solutions``
and ``--exchange``, before or after the command's name. Errors an instructor can fix are
printed as one sentence, with exit status 2; ``autograde`` exits with 1 when a submission could
not be graded (its line says why; a rerun tries it again).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from pathlib import Path

from .course import Course, CourseError


class GradingIncomplete(CourseError):
    """Some submissions were not graded as they should have been (exit status 1)."""


def _course(args: argparse.Namespace) -> Course:
    return Course(args.course_dir, solutions=args.solutions, exchange=args.exchange)


def cmd_setup(args: argparse.Namespace) -> None:
    course = _course(args)
    for name in course.setup(args.assignments):
        print(f"set up {name}")
    try:  # formgrader and the students' assignment list expect it to exist
        print(f"exchange: {course.ensure_exchange()}")
    except CourseError as exc:
        print(f"note: {exc}; `course release` needs it")


def cmd_release(args: argparse.Namespace) -> None:
    _course(args).release(args.assignment)
    print(f"released {args.assignment}")


def cmd_collect(args: argparse.Namespace) -> None:
    from .lms import STUDENT_LIST_COLUMNS, import_submissions, read_map

    course = _course(args)
    course.require_assignment(args.assignment)
    if args.source is None:
        course.collect_exchange(args.assignment)
        print(f"collected {args.assignment} from the exchange")
        return
    if not args.source.exists():
        raise CourseError(f"{args.source} does not exist")
    mapping = read_map(args.map) if args.map else None
    result = import_submissions(
        args.source,
        course.root / "submitted",
        args.assignment,
        course.notebooks(args.assignment),
        mapping,
    )
    names = course.root / "lms" / f"{args.assignment}.csv"
    names.parent.mkdir(parents=True, exist_ok=True)
    with open(names, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STUDENT_LIST_COLUMNS)  # student_id, name, notebooks, source, lms_id
        writer.writerows(
            [
                s,
                result.names.get(s, ""),
                " ".join(nbs),
                result.sources.get(s, ""),
                result.lms_ids.get(s, ""),
            ]
            for s, nbs in sorted(result.students.items())
        )
    print(
        f"imported {len(result.students)} student(s) into {course.root / 'submitted'} "
        f"(ids and names: {names})"
    )
    for line in result.skipped:
        print(f"  skipped {line}")
    if result.unattributed:
        raise GradingIncomplete(
            f"{result.unattributed} notebook(s) could not be attributed to "
            "a student (listed above): rename them or give a --map, then "
            "run this again"
        )


def cmd_autograde(args: argparse.Namespace) -> None:
    from .autograde import autograde
    from .limits import Limits

    course = _course(args)
    limits = Limits(wall_s=args.time_limit, mem_bytes=int(args.memory_gib * 2**30))
    records = autograde(
        course,
        args.assignment,
        limits=limits,
        workers=args.workers,
        force=args.force,
        students=args.student or None,
    )
    counts = Counter(r.status for r in records)
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no submissions")
    for record in records:
        if record.status != "ok":
            print(f"  {record.student}: {record.status}: {record.reason}")
    failed = [r.student for r in records if r.grader_failed]
    if failed:
        named = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
        raise GradingIncomplete(
            f"{len(failed)} submission(s) could not be graded, the grader "
            f"failed on them ({named}; any earlier grade of theirs was "
            "kept): fix the cause and run `course autograde` again, which "
            "retries them"
        )


def cmd_feedback(args: argparse.Namespace) -> None:
    from .feedback import generate_feedback

    pages = generate_feedback(_course(args), args.assignment)
    print(f"wrote {len(pages)} feedback page(s)")


def cmd_release_feedback(args: argparse.Namespace) -> None:
    pages = _course(args).release_feedback(args.assignment)
    print(f"released {pages} feedback page(s) of {args.assignment} to the exchange")


def cmd_clear(args: argparse.Namespace) -> None:
    from .autograde import autograde, clear

    course = _course(args)
    course.require_assignment(args.assignment)
    clear(course, args.assignment, args.student)
    (record,) = [
        r
        for r in autograde(
            course, args.assignment, force=True, students=[args.student], progress=False
        )
        if r.student == args.student
    ]
    print(f"cleared {args.student}: {record.status}, {record.score:g}/{record.max_score:g}")


def cmd_grades(args: argparse.Namespace) -> None:
    from .grades import grade_rows, write_grades
    from .lms_export import write_lms_files

    course = _course(args)
    rows = grade_rows(course, args.assignment)
    path = write_grades(course, args.assignment, args.output, rows)
    print(path)
    for line in write_lms_files(course, args.assignment, rows, path).lines():
        print(line)


def cmd_formgrader(args: argparse.Namespace) -> None:
    course = _course(args)
    config = course.root / "nbgrader_config.py"
    if not config.exists():
        raise CourseError(f"{course.root} has no nbgrader_config.py: run `course setup` first")
    lab = Path(sys.executable).with_name("jupyter-lab")
    if not lab.exists():
        raise CourseError(
            "JupyterLab is not installed in this environment: pip install "
            "jupyterlab, then run this again"
        )
    command = [
        str(lab),
        f"--ServerApp.root_dir={course.root}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={args.port}",
        "--ServerApp.open_browser=False",
    ]
    if os.geteuid() == 0:  # containers often run as root; Jupyter refuses without this
        command.append("--allow-root")
    print(
        "formgrader on this class: open the URL below, then /formgrader (Ctrl-C stops)", flush=True
    )
    # nbgrader reads nbgrader_config.py from the directory it starts in.
    os.chdir(course.root)
    os.execv(command[0], command)


def _global_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name. Only the main parser sets
    defaults, so an option given before the command is not reset by the subcommand's parser."""
    p = argparse.ArgumentParser(add_help=False)
    value = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)  # noqa: E731
    p.add_argument(
        "--course-dir",
        type=Path,
        default=value(Path(os.environ.get("COURSE_DIR", "course"))),
        help="the class directory (default ./course, or $COURSE_DIR)",
    )
    p.add_argument(
        "--solutions",
        type=Path,
        default=value(None),
        help="the instructor's solution notebooks (default: the project's solutions/)",
    )
    p.add_argument("--exchange", type=Path, default=value(None), help="nbgrader exchange directory")
    return p


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="course", description=__doc__.splitlines()[0], parents=[_global_options(defaults=True)]
    )
    anywhere = _global_options(defaults=False)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:  # noqa: A002 -- argparse's
        return sub.add_parser(name, help=help, parents=[anywhere])

    s = command("setup", "build source/ and release/ from the solutions")
    s.add_argument("assignments", nargs="*")
    s.set_defaults(run=cmd_setup)
    s = command("release", "release an assignment to the exchange")
    s.add_argument("assignment")
    s.set_defaults(run=cmd_release)
    s = command("collect", "collect submissions (exchange, or an LMS folder/zip)")
    s.add_argument("assignment")
    s.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=None,
        help="a folder or zip of notebooks exported by an LMS",
    )
    s.add_argument("--map", type=Path, default=None, help="CSV with columns key,student_id")
    s.set_defaults(run=cmd_collect)
    s = command("autograde", "grade every submission, isolated and in parallel")
    s.add_argument("assignment")
    s.add_argument(
        "--workers", type=int, default=None, help="grader processes (default: the usable cores)"
    )
    s.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per notebook (default: 5 x the solution's own run time in the "
        "sandbox, measured once per version of the assignment)",
    )
    s.add_argument("--memory-gib", type=float, default=2.0, help="memory per notebook")
    s.add_argument("--force", action="store_true", help="regrade students already graded")
    s.add_argument("--student", action="append", help="grade only this student (repeatable)")
    s.set_defaults(run=cmd_autograde)
    s = command("feedback", "write feedback HTML for every graded student")
    s.add_argument("assignment")
    s.set_defaults(run=cmd_feedback)
    s = command("release-feedback", "release feedback pages to the exchange")
    s.add_argument("assignment")
    s.set_defaults(run=cmd_release_feedback)
    s = command("clear", "after reading a tampered submission, let its points count")
    s.add_argument("assignment")
    s.add_argument("student")
    s.set_defaults(run=cmd_clear)
    s = command("grades", "write the grades CSV, and Canvas / Moodle import files beside it")
    s.add_argument("assignment")
    s.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="the grades CSV (default course/grades/ASSIGNMENT.csv); the LMS files "
        "are written beside it as NAME-canvas.csv, NAME-moodle.csv",
    )
    s.set_defaults(run=cmd_grades)
    s = command("formgrader", "JupyterLab with formgrader on this class (Autograde sandboxed)")
    s.add_argument("--port", type=int, default=8888)
    s.set_defaults(run=cmd_formgrader)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.solutions is None:
        from .course import PROJECT_ROOT

        args.solutions = PROJECT_ROOT / "solutions"
    try:
        args.run(args)
    except CourseError as exc:
        print(f"course {args.command}: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, GradingIncomplete) else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
