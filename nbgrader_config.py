# nbgrader configuration for Unrolled. nbgrader reads this file when run from the repository
# root (`make exercises` does); course_lib.grading.release loads it explicitly for other roots.
#
# Layout: the course directory is the repository itself. nbgrader's "source" step is
# solutions/<assignment>/ (solutions + visible and hidden tests); generate_assignment writes the
# student versions to build/nbgrader/release/<assignment>/, which `make exercises` copies to
# exercises/<assignment>/. The gradebook lives under the ignored build/ folder (an absolute path
# next to this file), so a fresh clone needs nothing but this file. An instructor's class
# directory (course_lib.instructor) reuses the same settings with its own root.
from pathlib import Path

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)
_gradebook = Path(__file__).resolve().parent / "build" / "nbgrader" / "gradebook.db"
try:
    _gradebook.parent.mkdir(parents=True, exist_ok=True)  # sqlite creates files, not folders
except OSError:  # a read-only checkout (e.g. inside a grading sandbox) sets its own db_url
    pass

c.CourseDirectory.course_id = "unrolled"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "build/nbgrader/release"
c.CourseDirectory.db_url = f"sqlite:///{_gradebook}"
# Files next to a solution notebook that students must not receive: the mistakes that the
# exercise tests inject (tests/test_exercises.py, tests/test_mistakes.py) hold solution code.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "mistakes.py", "student_mistakes.py"]

# Per-cell time limit in seconds, for autograding and Validate alike. A solved notebook runs in
# well under a minute; a hanging cell is stopped here instead of holding the grader.
c.Execute.timeout = 60
