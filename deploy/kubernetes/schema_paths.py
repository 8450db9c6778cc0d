"""The Zero to JupyterHub chart's configuration keys, and a check of a values file against them.

Helm refuses a values file that its chart's ``values.schema.yaml`` rejects, but there is no Helm
here. So the key paths of the pinned chart's schema are kept as an index (``z2jh-<version>.keys``,
one ``path  types  rule`` per line, made by this script from the schema), and :func:`check`
says which key paths of a values file the schema would not allow, and which have a value of a
type it does not take. Path segments written ``<regex>`` stand for the schema's
``patternProperties``; rule ``open`` means the schema lets anything in below
(``additionalProperties: true``), ``closed`` only the keys listed.

    python deploy/kubernetes/schema_paths.py index values.schema.yaml > z2jh-4.4.0.keys
    python deploy/kubernetes/schema_paths.py check values.yaml z2jh-4.4.0.keys
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The chart version the values file is written for (z2jh 4.4.0 runs JupyterHub 5.5).
CHART_VERSION = "4.4.0"
HERE = Path(__file__).resolve().parent
INDEX = HERE / f"z2jh-{CHART_VERSION}.keys"

_PYTHON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "null": type(None),
}


@dataclass(frozen=True)
class Key:
    """One key of the schema: the JSON types it takes and whether unlisted keys may follow."""

    types: tuple[str, ...]
    open: bool


def index_lines(node: dict[str, Any], path: str = "") -> list[str]:
    """The index's lines for schema ``node`` and everything under it."""
    lines = []
    children = [(name, child) for name, child in node.get("properties", {}).items()]
    children += [(f"<{rx}>", child) for rx, child in node.get("patternProperties", {}).items()]
    for name, child in children:
        key = f"{path}.{name}" if path else name
        types = child.get("type", "any")
        types = "|".join(types) if isinstance(types, list) else types
        is_open = child.get("additionalProperties") is True or (
            types in ("object", "any")
            and "properties" not in child
            and "patternProperties" not in child
            and child.get("additionalProperties") is not False
        )
        lines.append(f"{key}\t{types}\t{'open' if is_open else 'closed'}")
        lines += index_lines(child, key)
    return lines


def read_index(path: Path = INDEX) -> dict[str, Key]:
    keys = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, types, rule = line.split("\t")
            keys[name] = Key(tuple(types.split("|")), rule == "open")
    return keys


def _schema_key(keys: dict[str, Key], parent: str, name: str) -> str | None:
    """The index entry that key ``name`` under ``parent`` falls under, if any."""
    exact = f"{parent}.{name}" if parent else name
    if exact in keys:
        return exact
    prefix = f"{parent}." if parent else ""
    for candidate in keys:
        segment = candidate[len(prefix) :] if candidate.startswith(prefix) else ""
        # one pattern segment, "<regex>" (its regex may hold dots: no split on them)
        if segment[:1] == "<" and segment[-1:] == ">" and segment.count("<") == 1:
            if re.search(segment[1:-1], name):
                return candidate
    return None


def _type_ok(value: Any, types: tuple[str, ...]) -> bool:
    if "any" in types:
        return True
    if isinstance(value, bool):  # a bool is an int to Python, not to JSON Schema
        return "boolean" in types
    return any(isinstance(value, _PYTHON_TYPES[t]) for t in types if t in _PYTHON_TYPES)


def check(values: dict[str, Any], keys: dict[str, Key]) -> list[str]:
    """Sentences, one per key path of ``values`` that the indexed schema would reject."""
    problems: list[str] = []

    def walk(node: dict[str, Any], where: str, schema_parent: str) -> None:
        for name, value in node.items():
            path = f"{where}.{name}" if where else name
            found = _schema_key(keys, schema_parent, str(name))
            if found is None:
                problems.append(f"{path}: no such key in the z2jh {CHART_VERSION} schema")
                continue
            if not _type_ok(value, keys[found].types):
                problems.append(
                    f"{path}: a {type(value).__name__}, where the schema takes "
                    f"{' or '.join(keys[found].types)}"
                )
            elif isinstance(value, dict) and not keys[found].open:
                walk(value, path, found)

    walk(values, "", "")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["index"] and len(argv) == 2:
        schema = yaml.safe_load(Path(argv[1]).read_text())
        print(f"# z2jh {CHART_VERSION} values.schema.yaml: key path, JSON types, rule")
        print("\n".join(index_lines(schema)))
        return 0
    if argv[:1] == ["check"] and len(argv) in (2, 3):
        keys = read_index(Path(argv[2])) if len(argv) == 3 else read_index()
        problems = check(yaml.safe_load(Path(argv[1]).read_text()), keys)
        print("\n".join(problems) or "every key is in the schema")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
