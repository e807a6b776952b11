"""Bake definitions: files merged in order, groups, inheritance, ``--set`` overrides.

The result is one ``Target`` per target to build, with every attribute
evaluated; ``to_request`` turns a target into the same BuildRequest that
``minikit build`` makes from its flags.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikit.bake.evaluate import Evaluator
from minikit.bake.hcl import BakeFile, Expr, load
from minikit.errors import ConfigError, UsageError

DEFAULT_FILES = ("docker-bake.json", "docker-bake.override.json", "docker-bake.hcl", "docker-bake.override.hcl")
LIST_KEYS = ("tags", "output", "secret", "ssh", "cache-from", "cache-to", "platforms", "no-cache-filter", "entitlements")
MAP_KEYS = ("args", "labels", "contexts")
TEXT_KEYS = ("context", "dockerfile", "dockerfile-inline", "target", "network", "description")
BOOL_KEYS = ("no-cache", "pull")
KNOWN_KEYS = set(LIST_KEYS) | set(MAP_KEYS) | set(TEXT_KEYS) | set(BOOL_KEYS) | {"inherits", "name"}
# The type of each list or map attribute; the others (but BOOL_KEYS) are strings.
_KEY_TYPES: dict[str, type] = {
    **{key: list for key in LIST_KEYS},
    **{key: dict for key in MAP_KEYS},
}
_EXAMPLES = {list: '["..."]', dict: '{ KEY = "VALUE" }', str: '"..."'}


@dataclass
class Target:
    """One evaluated bake target."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """Return attribute ``key``."""
        return self.values.get(key, default)

    def to_json(self) -> dict[str, Any]:
        """Return the target as ``bake --print`` shows it."""
        return {key: self.values[key] for key in sorted(self.values)}


def find_files(cwd: Path, given: list[str]) -> list[Path]:
    """Return the bake files to read: ``-f`` files, else the default names present."""
    if given:
        return [Path(name) if Path(name).is_absolute() else cwd / name for name in given]
    found = [cwd / name for name in DEFAULT_FILES if (cwd / name).is_file()]
    if not found:
        raise UsageError(
            f"no bake file found in {cwd}",
            hint="create docker-bake.hcl (or .json), or pass one with -f FILE",
        )
    return found


def resolve(files: list[Path], names: list[str], overrides: list[str]) -> list[Target]:
    """Load ``files`` and return the targets that ``names`` (targets or groups) select."""
    merged = BakeFile(files[0])
    for path in files:
        for kind, blocks in load(path).blocks.items():
            for label, attributes in blocks.items():
                merged.add(kind, label, attributes)
    variables = {label: body.get("default", Expr("string", "")) for label, body in merged.blocks.get("variable", {}).items()}
    evaluator = Evaluator(variables)
    wanted = _expand_groups(merged, evaluator, names or ["default"])
    targets = [_target(merged, evaluator, name, ()) for name in wanted]
    for override in overrides:
        _apply_override(merged, evaluator, targets, override)
    return targets


def _expand_groups(merged: BakeFile, evaluator: Evaluator, names: list[str]) -> list[str]:
    groups = merged.blocks.get("group", {})
    targets = merged.blocks.get("target", {})
    out: list[str] = []
    stack = list(reversed(names))
    seen_groups: set[str] = set()
    while stack:
        name = stack.pop()
        if name in groups and name not in seen_groups:
            seen_groups.add(name)
            members = evaluator.evaluate(groups[name].get("targets", Expr("list")))
            if not isinstance(members, list):
                raise ConfigError(
                    f"invalid bake group {name!r}: targets must be a list, not {_type_name(members)}",
                    hint='write targets = ["app", "tools"]',
                )
            stack.extend(str(member) for member in reversed(members))
        elif name in targets:
            if name not in out:
                out.append(name)
        elif name == "default" and not groups.get("default") and len(targets) == 1:
            out.extend(targets)
        else:
            raise UsageError(
                f"failed to find target {name}",
                hint="targets and groups in the bake files: " + ", ".join(sorted(set(groups) | set(targets))),
            )
    return out


def _target(merged: BakeFile, evaluator: Evaluator, name: str, chain: tuple[str, ...]) -> Target:
    if name in chain:
        raise ConfigError(f"bake target {name!r} inherits from itself: {' -> '.join(chain + (name,))}")
    body = merged.blocks.get("target", {}).get(name)
    if body is None:
        raise ConfigError(f"bake target {chain[-1] if chain else name!r} inherits from unknown target {name!r}")
    values: dict[str, Any] = {}
    parents = evaluator.evaluate(body.get("inherits", Expr("list")))
    _check_value(name, "inherits", parents, list)
    for parent in parents:
        _merge(values, _target(merged, evaluator, str(parent), chain + (name,)).values)
    own = {}
    for key, expr in body.items():
        if key == "inherits":
            continue
        if key not in KNOWN_KEYS:
            raise ConfigError(f"unsupported attribute {key!r} in bake target {name!r}")
        own[key] = evaluator.evaluate(expr)
        if key not in BOOL_KEYS:
            _check_value(name, key, own[key], _KEY_TYPES.get(key, str))
    _merge(values, own)
    return Target(name, values)


def _check_value(target: str, key: str, value: Any, expected: type) -> None:
    """Raise ConfigError unless ``value`` (or null) has the type that ``key`` takes."""
    if value is None or isinstance(value, expected):
        return
    names = {list: "a list", dict: "a map", str: "a string"}
    raise ConfigError(
        f"invalid bake target {target!r}: {key} must be {names[expected]}, not {_type_name(value)}",
        hint=f"write {key} = {_EXAMPLES[expected]}",
    )

def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names = {list: "a list", dict: "a map", str: "a string"}
    return names.get(type(value), type(value).__name__)


def _merge(values: dict[str, Any], newer: dict[str, Any]) -> None:
    for key, value in newer.items():
        if key in MAP_KEYS and isinstance(values.get(key), dict):
            values[key] = {**values[key], **(value or {})}
        else:
            values[key] = value


def _apply_override(merged: BakeFile, evaluator: Evaluator, targets: list[Target], text: str) -> None:
    path, sep, value = text.partition("=")
    if not sep or "." not in path:
        raise UsageError(f"invalid --set {text!r}", hint="write --set TARGET.KEY=VALUE (TARGET may be *)")
    pattern, _, key = path.partition(".")
    key, _, subkey = key.partition(".")
    names = _override_targets(merged, evaluator, pattern)
    for target in targets:
        if target.name not in names:
            continue
        if subkey:
            target.values.setdefault(key, {})[subkey] = value
        elif key in LIST_KEYS:
            target.values[key] = [item for item in value.split(",") if item] if key == "tags" else [value]
        elif key in BOOL_KEYS:
            target.values[key] = value.lower() in ("1", "true")
        else:
            target.values[key] = value


def _override_targets(merged: BakeFile, evaluator: Evaluator, pattern: str) -> set[str]:
    """Return the targets that ``--set PATTERN.KEY=VALUE`` changes, as buildx matches them.

    PATTERN is a target name, a group name (its targets), or a shell glob
    such as ``*`` or ``app-*`` over the target names of the bake files.
    """
    groups = merged.blocks.get("group", {})
    names = {name for name in merged.blocks.get("target", {}) if fnmatch.fnmatchcase(name, pattern)}
    if pattern in groups:
        names.update(_expand_groups(merged, evaluator, [pattern]))
    if not names:
        raise UsageError(
            f"could not find any target matching {pattern!r}",
            hint="targets and groups in the bake files: " + ", ".join(sorted(set(groups) | set(merged.blocks.get("target", {})))),
        )
    return names


def csv_of(value: Any) -> str:
    """Return a list entry (a CSV string, or an object of attributes) as CSV."""
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def print_json(targets: list[Target], groups: list[str]) -> str:
    """Return the resolved definition as ``bake --print`` writes it."""
    data = {
        "group": {"default": {"targets": [target.name for target in targets]}},
        "target": {target.name: target.to_json() for target in targets},
    }
    del groups
    return json.dumps(data, indent=2) + "\n"
