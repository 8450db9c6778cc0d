"""The exercise notebooks, graded for real by the driver instructors run (`course setup`,
`course autograde`: nbgrader, with the test cells in the grader and the answers in the sandbox).

For every assignment in solutions/: the solution earns full marks; the blank student version
earns 0 without crashing the grader and fails only with NotImplementedError; two notebooks in
which *every* part carries its declared mistake A (resp. B) lose points on every part, with the
mistake named in that part's feedback. Parts are graded independently, so two mistake notebooks
cover two mistakes per part. exercises/ must be exactly what ``make exercises`` generates.

Adding an assignment needs no change here: add solutions/NN_name/{NN_name.ipynb, mistakes.py}.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from _nbgrader_harness import Course, answer_cells, declared_mistakes, grade_id, read_source, solved

from course_lib.grading.assignment import SEED_VARIABLE
from course_lib.grading.release import EXERCISES, assignment_names

ASSIGNMENTS = assignment_names()
FIXED_SEED = 20261123


def _cells(name: str) -> list:
    return read_source(name).cells


def _parts(name: str) -> list[str]:
    return list(answer_cells(read_source(name)))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """Every assignment generated once per test module (and per xdist worker) in a tmp course.

    The hidden tests' seeds are fixed (the grader processes inherit the environment) so that a
    run is reproducible; the grader's own seeds are tested in test_grading.py.
    """
    saved = {name: os.environ.get(name) for name in ("PATH", SEED_VARIABLE)}
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = f"{venv_bin}{os.pathsep}{saved['PATH']}"  # nbgrader runs `alembic`
    os.environ[SEED_VARIABLE] = str(FIXED_SEED)
    yield Course(tmp_path_factory.mktemp("course"), ASSIGNMENTS)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_assignments_exist() -> None:
    assert ASSIGNMENTS, "no solutions/NN_name/NN_name.ipynb found"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_layout(name: str) -> None:
    """Setup cell first; each part = answer, visible tests (0 points), hidden tests (points)."""
    cells = _cells(name)
    code = [c for c in cells if c.cell_type == "code"]
    meta = [c.metadata.get("nbgrader", {}) for c in code]
    assert meta[0].get("locked") and not meta[0].get("solution") and not meta[0].get("grade")
    assert f"from course_lib.grading import ex{name} as tests" in code[0].source
    parts = _parts(name)
    assert 3 <= len(parts) <= 6, f"{name} has {len(parts)} graded parts; the syllabus wants 3-6"
    ids = [grade_id(c) for c in code]
    module = importlib.import_module(f"course_lib.grading.ex{name}")
    assert list(module.ASSIGNMENT.parts) == parts
    for part in parts:
        at = ids.index(part)
        assert ids[at + 1 : at + 3] == [f"{part}_visible", f"{part}_hidden"], ids
        visible, hidden = code[at + 1], code[at + 2]
        assert visible.metadata.nbgrader["points"] == 0
        assert f'tests.check("{part}", {part})' in visible.source
        assert "BEGIN HIDDEN TESTS" not in visible.source
        points = hidden.metadata.nbgrader["points"]
        assert points > 0
        pattern = rf'_hidden_tests\.grade\("{part}", {part}, points=([\d.]+)\)'
        call = re.search(pattern, hidden.source)
        assert call and float(call.group(1)) == points, f"{part}: points= must match the cell's"
        assert hidden.source.index("BEGIN HIDDEN TESTS") < call.start()


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_visible_cells_check_first(name: str) -> None:
    """Each visible cell runs ``tests.check`` first, so a wrong answer is explained by the checker
    before any worked example can stop at a bare AssertionError; and every assert of the worked
    example carries a message, so one that fires after the check still reads as a sentence."""
    cells = {grade_id(c): c for c in _cells(name) if c.cell_type == "code"}
    for part in _parts(name):
        source = cells[f"{part}_visible"].source
        statements = [
            line.strip()
            for line in source.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        assert statements and statements[0] == f'tests.check("{part}", {part})', (
            f"{name} {part}_visible: the first statement must be tests.check, not {statements[:1]}"
        )
        bare = [
            node.lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Assert) and node.msg is None
        ]
        assert not bare, f"{name} {part}_visible: assert without a message on line(s) {bare}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_contracts_stated(name: str) -> None:
    """The markdown cell just before each answer cell states the part's contract."""
    cells = _cells(name)
    ids = [grade_id(c) for c in cells]
    for part in _parts(name):
        before = cells[ids.index(part) - 1]
        assert before.cell_type == "markdown", f"{name} {part}: no markdown cell before the answer"
        assert "**Contract.**" in before.source, f"{name} {part}: the part states no **Contract.**"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_mistakes_declared(name: str) -> None:
    """Each part declares mistakes A and B whose text occurs once in its solution cell."""
    answers = answer_cells(read_source(name))
    mistakes = declared_mistakes(name)
    assert set(mistakes) == set(answers)
    for part, declared in mistakes.items():
        assert set(declared) == {"A", "B"}, part
        for label, change in declared.items():
            assert answers[part].source.count(change["find"]) == 1, (part, label)
            assert change["expect"], (part, label)


@pytest.mark.slow
def test_exercises_are_generated(course: Course) -> None:
    """exercises/ holds exactly nbgrader's release of solutions/ (run `make exercises`)."""
    assert sorted(p.name for p in EXERCISES.iterdir() if p.is_dir()) == ASSIGNMENTS

    def files(folder: Path) -> list[Path]:
        # Jupyter's own droppings (a local `make lab`) are not part of the release.
        return sorted(
            p.relative_to(folder)
            for p in folder.rglob("*")
            if p.is_file() and not {".ipynb_checkpoints", "__pycache__"} & set(p.parts)
        )

    for name in ASSIGNMENTS:
        generated = files(course.release_dir / name)
        # Python files beside a solution hold its mistakes, i.e. solution code: never released.
        assert not [p for p in generated if p.suffix == ".py"], f"{name}: {generated}"
        assert generated == files(EXERCISES / name), f"{name}: files differ; run `make exercises`"
        for rel in generated:
            fresh = (course.release_dir / name / rel).read_text()
            kept = (EXERCISES / name / rel).read_text()
            if rel.suffix == ".ipynb":
                fresh, kept = json.loads(fresh), json.loads(kept)
            assert fresh == kept, f"exercises/{name}/{rel} is stale; run `make exercises`"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograde(course: Course, name: str) -> None:
    source, release = read_source(name), course.release(name)
    mistakes = declared_mistakes(name)
    graded = course.autograde(
        name,
        {
            "solution": solved(release, source),
            "blank": release,
            "mistakes_a": solved(release, source, "A", mistakes),
            "mistakes_b": solved(release, source, "B", mistakes),
        },
    )
    problems = []

    full = graded["solution"]
    best = sum(full.max_scores.values())
    if full.scores != full.max_scores or full.total != best or full.status != "ok":
        problems.append(f"solution: {full.status} {full.scores} of {full.max_scores}")
    if full.errors:
        problems.append(f"solution raised: {full.errors}")
    for student, result in graded.items():  # nbgrader's gradebook holds the grader's verdicts
        if result.gradebook_total != result.total or result.status != "ok":
            problems.append(
                f"{student}: {result.status}, record {result.total}, gradebook "
                f"{result.gradebook_total}: {result.record.reason}"
            )

    blank = graded["blank"]
    if any(blank.scores.values()) or blank.total != 0:
        problems.append(f"blank: scored {blank.scores}")
    for cell, (ename, evalue) in blank.errors.items():
        if not (ename == "NotImplementedError" or "not implemented" in evalue):
            problems.append(f"blank: cell {cell} raised {ename}: {evalue}")
    if set(blank.errors) - {f"{p}_visible" for p in mistakes} - {f"{p}_hidden" for p in mistakes}:
        problems.append(f"blank: errors outside test cells: {sorted(blank.errors)}")

    for label, student in (("A", "mistakes_a"), ("B", "mistakes_b")):
        result = graded[student]
        for part, declared in mistakes.items():
            hidden = f"{part}_hidden"
            if result.scores[hidden] >= result.max_scores[hidden]:
                problems.append(f"mistake {label} in {part} kept all points")
            if f"seed={FIXED_SEED}" not in result.outputs[hidden]:  # reproducible: say how
                problems.append(f"mistake {label} in {part}: the feedback lacks the seed")
            if declared[label]["expect"] not in result.outputs[hidden]:
                problems.append(
                    f"mistake {label} in {part}: feedback lacks {declared[label]['expect']!r}:\n"
                    f"{result.outputs[hidden]}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_validate(course: Course) -> None:
    """nbgrader Validate (the students' button) passes a solved notebook and lists every
    failing visible test of the blank one."""
    from nbgrader.validator import Validator

    name = ASSIGNMENTS[0]
    source, release = read_source(name), course.release(name)
    folder = course.root / "validate"
    folder.mkdir()
    nbformat.write(solved(release, source), folder / "solved.ipynb")
    nbformat.write(release, folder / "blank.ipynb")
    validator = Validator(config=course.directory.config())
    assert "failed" not in validator.validate(str(folder / "solved.ipynb"))
    failed = validator.validate(str(folder / "blank.ipynb"))["failed"]
    assert len(failed) == len(_parts(name))
    assert all("tests.check(" in cell["source"] for cell in failed)
    # What the student reads is the checker's sentence, not a traceback into course_lib.
    for cell in failed:
        assert "CheckFailed" in cell["error"] and "not implemented yet" in cell["error"]
        assert "course_lib" not in cell["error"] and "Traceback" not in cell["error"]
