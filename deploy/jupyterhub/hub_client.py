"""A user of the course hub, driven through the hub's front door as a browser would be.

:class:`HubUser` logs in with the login form (the hub's PAM authenticator checks the Linux
password), asks the hub for an API token, starts the user's server with the hub's REST API and
then talks to that server through the hub's proxy (``/user/<name>/...``): nbgrader's
assignment-list endpoints, the contents API, formgrader, and a terminal, in which
:meth:`HubUser.run` types a shell command and returns its exit status and output. Whatever
runs there runs in the user's own server, as their Linux account.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


class HubClientError(RuntimeError):
    """The hub or a user's server did not do what was asked; the message says what happened."""


class HubUser:
    """One account on the hub at ``url`` (e.g. ``http://127.0.0.1:8000``)."""

    def __init__(self, url: str, name: str, password: str) -> None:
        self.url, self.name, self.password = url.rstrip("/"), name, password
        self.session = requests.Session()
        self.token: str | None = None

    # ------------------------------------------------------------------ the hub

    def login(self) -> None:
        """The login form, as a browser posts it; then an API token for the rest."""
        page = self.session.get(f"{self.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        if xsrf is None:
            raise HubClientError(f"no login form at {self.url}/hub/login")
        done = self.session.post(
            f"{self.url}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf[1]},
            allow_redirects=False,
            timeout=60,
        )
        if done.status_code != 302:
            raise HubClientError(f"the hub refused {self.name}'s login ({done.status_code})")
        made = self.session.post(
            f"{self.url}/hub/api/users/{self.name}/tokens",
            json={"note": "hub_client", "expires_in": 3600},
            headers={"X-XSRFToken": self.session.cookies.get("_xsrf", path="/hub/")},
            timeout=30,
        )
        if made.status_code != 201:
            raise HubClientError(f"no API token for {self.name}: {made.status_code} {made.text}")
        self.token = made.json()["token"]

    def hub_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.url}/hub/api/{path}", headers=self._auth(), timeout=60, **kwargs
        )

    def start_server(self, timeout_s: float = 120.0) -> None:
        """Ask the hub to start this user's server; return once it answers."""
        started = self.hub_api("POST", f"users/{self.name}/server")
        if started.status_code not in (201, 202, 400):  # 400: already running
            raise HubClientError(f"the hub did not start {self.name}'s server: {started.text}")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            server = self.hub_api("GET", f"users/{self.name}").json()["servers"].get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise HubClientError(f"{self.name}'s server was not ready within {timeout_s:.0f} s")

    # ------------------------------------------------------------------ the user's server

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            raise HubClientError(f"{self.name} is not logged in: call login() first")
        return {"Authorization": f"token {self.token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method`` on ``/user/<name>/<path>``, through the hub's proxy."""
        return requests.request(
            method,
            f"{self.url}/user/{self.name}/{path}",
            headers=self._auth(),
            timeout=kwargs.pop("timeout", 300),
            **kwargs,
        )

    def assignments(self, action: str, course_id: str, assignment_id: str) -> Any:
        """nbgrader's assignment list: ``fetch``, ``submit`` or ``fetch_feedback``; the list
        of this user's assignments it answers with."""
        done = self.request(
            "POST",
            f"assignments/{action}",
            data={"course_id": course_id, "assignment_id": assignment_id},
        )
        done.raise_for_status()
        answer = done.json()  # {"success": ..., "value": the assignment list, or an error}
        if not answer["success"]:
            raise HubClientError(f"nbgrader {action} failed for {self.name}: {answer['value']}")
        return answer["value"]

    def read(self, path: str) -> dict:
        """A file or folder's model from the contents API (``content`` included)."""
        got = self.request("GET", f"api/contents/{path}", params={"content": "1"})
        got.raise_for_status()
        return got.json()

    def write_notebook(self, path: str, notebook: dict) -> None:
        put = self.request(
            "PUT", f"api/contents/{path}", json={"type": "notebook", "content": notebook}
        )
        put.raise_for_status()

    def run(self, command: str, timeout_s: float = 300.0) -> tuple[int, str]:
        """Type ``command`` into a new terminal of this user's server; its status and output."""
        made = self.request("POST", "api/terminals")
        made.raise_for_status()
        terminal = made.json()["name"]
        try:
            return asyncio.run(self._converse(terminal, command, timeout_s))
        finally:
            self.request("DELETE", f"api/terminals/{terminal}")

    async def _converse(self, terminal: str, command: str, timeout_s: float) -> tuple[int, str]:
        ws_url = self.url.replace("http", "ws", 1)
        socket = await websocket_connect(
            HTTPRequest(
                f"{ws_url}/user/{self.name}/terminals/websocket/{terminal}", headers=self._auth()
            )
        )
        # The marker is printed by the shell, so the echoed command line (which shows `$?`,
        # not a number) cannot be mistaken for it.
        await socket.write_message(json.dumps(["stdin", f"{command}; echo __status=$?__\r"]))
        output, deadline = "", time.monotonic() + timeout_s
        try:
            while (done := re.search(r"__status=(\d+)__", output)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HubClientError(
                        f"`{command}` did not finish within {timeout_s:.0f} s in "
                        f"{self.name}'s terminal; it printed:\n{output[-3000:]}"
                    )
                message = await asyncio.wait_for(socket.read_message(), left)
                if message is None:
                    raise HubClientError(f"{self.name}'s terminal closed:\n{output[-3000:]}")
                kind, *payload = json.loads(message)
                if kind == "stdout":
                    output += payload[0]
        finally:
            socket.close()
        return int(done[1]), output[: done.start()]
