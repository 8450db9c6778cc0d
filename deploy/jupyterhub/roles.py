"""Which nbgrader tools a user's server shows: the student's or the instructor's.

JupyterHub calls :func:`prepare` before it starts a single-user server (``pre_spawn_hook``),
on one machine (``jupyterhub_config.py``) and on Kubernetes (the Helm values' ``extraConfig``)
alike. Membership of the hub group :data:`INSTRUCTORS` decides the role; the role decides which
folder of this directory joins the server's Jupyter config path:

- ``student/``: the assignment list and Validate; formgrader's and the course list's server
  extensions off, and JupyterLab's formgrader, "Create Assignment" and course-list plugins
  disabled;
- ``instructor/``: all of nbgrader's extensions, and ``COURSE_DIR``, the class directory that
  ``course`` and formgrader work on;
- ``common/`` (both): nbgrader's settings, the shared exchange among them.

This is the interface each role sees, not the protection: a student who switched formgrader
back on would run it as their own Linux user, who cannot read the class directory or the
gradebook. File permissions and the exchange's own rules keep the grades safe.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Any

#: The hub group whose members get the instructor's server.
INSTRUCTORS = "instructors"
#: Where the role folders are: this directory, unless the hub says otherwise (in an image).
ROLE_CONFIG = Path(os.environ.get("UNROLLED_ROLE_CONFIG", Path(__file__).resolve().parent))


def role_of(user: Any) -> str:
    """``"instructor"`` for a member of :data:`INSTRUCTORS`, else ``"student"``."""
    return "instructor" if INSTRUCTORS in {group.name for group in user.groups} else "student"


def home_of(name: str) -> Path:
    """A user's home inside their server: their Linux account's, or the one the hub is told
    every server has (``UNROLLED_USER_HOME``: on Kubernetes every pod is /home/jovyan)."""
    fixed = os.environ.get("UNROLLED_USER_HOME")
    return Path(fixed) if fixed else Path(pwd.getpwnam(name).pw_dir)


def role_environment(name: str, role: str) -> dict[str, str]:
    """The variables that give a server of ``role`` its tools (see the module)."""
    env = {
        # nbgrader files a submission under this name (on Kubernetes no passwd entry says it)
        "USER": name,
        "LOGNAME": name,
        "UNROLLED_ROLE": role,
        "JUPYTER_CONFIG_PATH": os.pathsep.join(
            [str(ROLE_CONFIG / role), str(ROLE_CONFIG / "common")]
        ),
    }
    if role == "instructor":
        env["COURSE_DIR"] = str(home_of(name) / "course")
    return env


def class_uid(spawner: Any) -> int:
    """On Kubernetes (``KubeSpawner.uid``), each user's own Linux uid, from ``UNROLLED_UIDS``
    (``name=uid,...``): nbgrader's exchange keeps submissions apart by their owners, so the
    class must not share the image's one uid."""
    uids = dict(
        pair.split("=") for pair in os.environ.get("UNROLLED_UIDS", "").split(",") if "=" in pair
    )
    if spawner.user.name not in uids:
        raise ValueError(
            f"{spawner.user.name} has no uid in UNROLLED_UIDS: add `{spawner.user.name}=<uid>` "
            "to hub.extraEnv.UNROLLED_UIDS in the Helm values and upgrade the release"
        )
    return int(uids[spawner.user.name])


def prepare(spawner: Any) -> None:
    """JupyterHub's ``pre_spawn_hook``: the role's environment for this user's server."""
    role = role_of(spawner.user)
    # A new dict, never an update in place: the configured one may be shared by every spawner,
    # and an instructor's COURSE_DIR must not leak into a student's server.
    spawner.environment = {
        **spawner.environment,
        **role_environment(spawner.user.name, role),
    }
    spawner.log.info("starting %s's server as %s", spawner.user.name, role)
