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

# The course id, the files students never receive and the per-cell time limit live in the
# package (course_lib.instructor.course.COURSE_SETTINGS), so an installed `course` has them too.
from course_lib.instructor.course import COURSE_SETTINGS, apply_settings  # noqa: E402

apply_settings(c, COURSE_SETTINGS)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "build/nbgrader/release"
c.CourseDirectory.db_url = f"sqlite:///{_gradebook}"
