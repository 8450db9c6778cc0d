# nbgrader settings of every single-user server on the course hub, students' and instructors'.
# The hub puts this folder on the server's JUPYTER_CONFIG_PATH (roles.py), so nbgrader reads it
# in the assignment list, Validate and formgrader alike.
import os
from pathlib import Path

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

# The course id, the files students never receive and Validate's per-cell limit: the package's.
from course_lib.instructor.course import COURSE_SETTINGS, apply_settings  # noqa: E402

apply_settings(c, COURSE_SETTINGS)
# One exchange for the whole class, shared by every account (the hub sets where).
c.Exchange.root = os.environ.get("UNROLLED_EXCHANGE", "/srv/nbgrader/exchange")

# An instructor's server also knows the class directory (COURSE_DIR, set by the hub for the
# instructors group): formgrader then works on it with the settings `course setup` wrote there,
# whose Autograde button runs the sandboxed `course autograde`.
_class_config = Path(os.environ.get("COURSE_DIR", "/nonexistent")) / "nbgrader_config.py"
if _class_config.is_file():
    load_subconfig(str(_class_config))  # noqa: F821 (defined by traitlets, as get_config)
