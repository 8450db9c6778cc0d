# JupyterHub for a small class on one machine: as root,
# `jupyterhub -f deploy/jupyterhub/jupyterhub_config.py` (`make hub` starts it for a demo
# class). The instructor guide walks through it.
#
# - PAM logins: every student and instructor is a real Linux account (nbgrader's exchange
#   relies on it: a submission belongs to its owner, and nobody reads another's);
# - LocalProcessSpawner: each user's JupyterLab is a process of theirs, in the course's Python
#   environment (this one), started in their home;
# - the class list gives two hub groups, "students" and "instructors"; roles.py gives each
#   role its nbgrader tools and everyone the shared exchange.
#
# Everything a course changes comes from the environment (a systemd unit's Environment=, say):
#   UNROLLED_STUDENTS, UNROLLED_INSTRUCTORS  the class, comma-separated Linux user names
#   UNROLLED_EXCHANGE      the nbgrader exchange (default /srv/nbgrader/exchange)
#   UNROLLED_HUB_STATE     the hub's own files: database, cookie secret (default /srv/jupyterhub)
#   UNROLLED_HUB_IP, UNROLLED_HUB_PORT  where users connect (default 127.0.0.1:8000)
#   UNROLLED_HUB_API_PORT, UNROLLED_PROXY_API_PORT  internal, on 127.0.0.1 (default 8081, 8001)
#   UNROLLED_CHP           configurable-http-proxy (default: build/npm's, from `make hub-deps`)
import os
import shutil
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import roles  # noqa: E402 (beside this file, put on the path just above)


def _names(variable: str) -> set[str]:
    return {name.strip() for name in os.environ.get(variable, "").split(",") if name.strip()}


students, instructors = _names("UNROLLED_STUDENTS"), _names("UNROLLED_INSTRUCTORS")
if not instructors:
    raise SystemExit(
        "no instructors: set UNROLLED_INSTRUCTORS (and UNROLLED_STUDENTS) to the class's "
        "Linux user names, comma-separated, then start the hub again"
    )

# Where users connect, and the hub's private ports (loopback only).
c.JupyterHub.ip = os.environ.get("UNROLLED_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("UNROLLED_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("UNROLLED_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('UNROLLED_PROXY_API_PORT', '8001'))}"
)

# The proxy is the Node.js one from npm (`make hub-deps` puts it in build/npm).
_chp = os.environ.get("UNROLLED_CHP") or str(
    HERE.parent.parent / "build/npm/node_modules/.bin/configurable-http-proxy"
)
if not (Path(_chp).is_file() or shutil.which(_chp)):
    raise SystemExit(
        f"configurable-http-proxy not found at {_chp}: run `make hub-deps` (npm), "
        "or set UNROLLED_CHP to where it is installed"
    )
c.ConfigurableHTTPProxy.command = [_chp]

# The hub's own state, readable by root alone.
state = Path(os.environ.get("UNROLLED_HUB_STATE", "/srv/jupyterhub"))
state.mkdir(mode=0o700, parents=True, exist_ok=True)
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")

# Who may log in: the class list, by their Linux passwords. A server started by the hub needs
# no PAM session (and containers and hosts without systemd-logind have none to open).
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = students | instructors
c.JupyterHub.load_groups = {
    "students": {"users": sorted(students)},
    roles.INSTRUCTORS: {"users": sorted(instructors)},
}

# Each user's JupyterLab: this Python environment's, as their own Linux user, in their home.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    "UNROLLED_EXCHANGE": os.environ.get("UNROLLED_EXCHANGE", "/srv/nbgrader/exchange"),
    # nbgrader runs `alembic`, and `course` runs `bwrap`, from PATH.
    "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
}
c.Spawner.pre_spawn_hook = roles.prepare
# JupyterLab with torch installed takes a while to import on a small machine.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
