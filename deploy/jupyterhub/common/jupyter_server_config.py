# Jupyter Server settings of every single-user server on the course hub (see roles.py).
import os

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

# Terminals run the user's own shell, but not as a login shell: Debian's /etc/profile would
# reset PATH and hide the course environment's `course` and `nbgrader` that the hub put first.
c.ServerApp.terminado_settings = {"shell_command": [os.environ.get("SHELL") or "/bin/sh"]}
