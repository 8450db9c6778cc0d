"""The hub's configuration beyond one machine, checked as far as this machine allows.

No Helm or Kubernetes here: the Zero to JupyterHub values file is checked against the key
paths and types of the pinned chart's schema (deploy/kubernetes/z2jh-4.4.0.keys, made from
the chart's values.schema.yaml), the paths it shares with the Dockerfile against each other,
and the role hook (deploy/jupyterhub/roles.py) on its own.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
sys.path.insert(0, str(DEPLOY / "jupyterhub"))
sys.path.insert(0, str(DEPLOY / "kubernetes"))
import roles  # noqa: E402 (deploy/jupyterhub)
import schema_paths  # noqa: E402 (deploy/kubernetes)

VALUES = yaml.safe_load((DEPLOY / "kubernetes" / "values.yaml").read_text())
DOCKERFILE = (DEPLOY / "kubernetes" / "Dockerfile").read_text()


def test_every_key_of_the_values_file_is_in_the_charts_schema() -> None:
    keys = schema_paths.read_index()
    assert schema_paths.INDEX.read_text().startswith(f"# z2jh {schema_paths.CHART_VERSION} ")
    assert schema_paths.check(VALUES, keys) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda v: v["singleuser"].update(defaultURL="/lab"), "singleuser.defaultURL: no such"),
        (lambda v: v["hub"]["config"].update(jupyterhub={}), "hub.config.jupyterhub: no such"),
        (lambda v: v["singleuser"].update(fsGid="100"), "singleuser.fsGid: a str"),
        (lambda v: v["cull"].update(enabled="yes"), "cull.enabled: a str"),
        (lambda v: v["hub"]["extraFiles"]["roles"].update(path="x"), "roles.path: no such"),
    ],
)
def test_the_check_catches_a_wrong_key_or_type(change, problem: str) -> None:
    values = yaml.safe_load((DEPLOY / "kubernetes" / "values.yaml").read_text())
    change(values)
    problems = schema_paths.check(values, schema_paths.read_index())
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_values_file_the_image_and_the_hook_agree() -> None:
    hub = VALUES["hub"]
    # the hook's file is mounted where extraConfig imports it from
    mounted = Path(hub["extraFiles"]["roles"]["mountPath"])
    assert mounted.name == "roles.py"
    assert f'sys.path.insert(0, "{mounted.parent}")' in hub["extraConfig"]["unrolled"]
    # the role folders are where the image puts them, and every one of them is copied
    where = hub["extraEnv"]["UNROLLED_ROLE_CONFIG"]
    for role in ("common", "student", "instructor"):
        assert f"COPY deploy/jupyterhub/{role} {where}/{role}" in DOCKERFILE
        assert (DEPLOY / "jupyterhub" / role).is_dir()
    # the class list: everyone allowed is in one group, and has a uid of their own
    groups = hub["config"]["JupyterHub"]["load_groups"]
    members = [u for g in groups.values() for u in g["users"]]
    assert sorted(members) == sorted(hub["config"]["Authenticator"]["allowed_users"])
    assert set(groups) == {"students", roles.INSTRUCTORS}
    uids = dict(p.split("=") for p in hub["extraEnv"]["UNROLLED_UIDS"].split(","))
    assert sorted(uids) == sorted(members) and len(set(uids.values())) == len(uids)
    # the exchange volume is mounted where the servers are told it is
    (mount,) = VALUES["singleuser"]["storage"]["extraVolumeMounts"]
    assert mount["mountPath"] == VALUES["singleuser"]["extraEnv"]["UNROLLED_EXCHANGE"]
    # the chart's hub runs JupyterHub 5.5: the image's single-user server comes from the same
    pins = (DEPLOY.parent / "pyproject.toml").read_text()
    assert re.search(r'hub = \["jupyterhub>=5\.5,<6"\]', pins)


def _spawner(name: str, groups: list[str], environment: dict[str, str]) -> SimpleNamespace:
    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    log = SimpleNamespace(info=lambda *args: None)
    return SimpleNamespace(user=user, environment=environment, log=log)


def test_the_hook_gives_each_role_its_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNROLLED_USER_HOME", "/home/jovyan")
    shared = {"UNROLLED_EXCHANGE": "/srv/nbgrader/exchange"}
    student, tutor = (
        _spawner("ana", ["students"], shared),
        _spawner("tutor", ["instructors"], shared),
    )
    roles.prepare(tutor)
    roles.prepare(student)
    assert shared == {"UNROLLED_EXCHANGE": "/srv/nbgrader/exchange"}  # not changed in place
    assert tutor.environment["COURSE_DIR"] == "/home/jovyan/course"
    assert "COURSE_DIR" not in student.environment
    for spawner, role in ((student, "student"), (tutor, "instructor")):
        path = spawner.environment["JUPYTER_CONFIG_PATH"].split(":")
        assert [Path(p).name for p in path] == [role, "common"]
        assert spawner.environment["USER"] == spawner.user.name
        assert spawner.environment["UNROLLED_EXCHANGE"] == "/srv/nbgrader/exchange"


def test_each_user_has_their_own_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNROLLED_UIDS", "tutor=10000,ana=10001")
    assert roles.class_uid(_spawner("ana", ["students"], {})) == 10001
    with pytest.raises(ValueError, match="ben has no uid in UNROLLED_UIDS: add `ben=<uid>`"):
        roles.class_uid(_spawner("ben", ["students"], {}))
