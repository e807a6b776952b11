"""The state of one stage while its instructions are dispatched."""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass, field
from typing import Any

from minikit.llb import NodeOutput
from minikit.oci.spec import Platform

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ("/bin/sh", "-c")
HISTORY_COMMENT = "buildkit.dockerfile.v0"


class OrderedEnv:
    """Environment variables in first-insertion order; replacing keeps the position."""

    def __init__(self, items: list[str] | tuple[str, ...] = ()) -> None:
        self._values: dict[str, str] = {}
        for item in items:
            name, _, value = item.partition("=")
            self._values[name] = value

    def set(self, name: str, value: str) -> None:
        """Set ``name`` to ``value``."""
        self._values[name] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the value of ``name``."""
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def as_dict(self) -> dict[str, str]:
        """Return a copy as a dict (for the shell lexer)."""
        return dict(self._values)

    def as_list(self) -> list[str]:
        """Return ``K=V`` strings in order."""
        return [f"{name}={value}" for name, value in self._values.items()]

    def copy(self) -> OrderedEnv:
        """Return an independent copy."""
        clone = OrderedEnv()
        clone._values = dict(self._values)
        return clone


def empty_image(platform: Platform) -> dict[str, Any]:
    """Return the config of ``scratch`` as BuildKit starts it."""
    image: dict[str, Any] = {
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    }
    if platform.variant:
        image["variant"] = platform.variant
    return image


def image_from_base(base: dict[str, Any], platform: Platform) -> dict[str, Any]:
    """Return a deep copy of a base image's config, prepared to build on."""
    image = _copy.deepcopy(base)
    image.setdefault("architecture", platform.architecture)
    image.setdefault("os", platform.os)
    image.setdefault("config", {})
    image.setdefault("history", [])
    image.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    image.pop("created", None)
    config = image["config"]
    if config is None:
        config = image["config"] = {}
    env = config.get("Env") or []
    if not any(item.startswith("PATH=") for item in env):
        env = [*env, f"PATH={DEFAULT_PATH}"]
    config["Env"] = env
    return image


@dataclass
class StageState:
    """One stage: its graph output, image config and the environment of expansion."""

    name: str
    index: int
    output: NodeOutput | None = None
    image: dict[str, Any] = field(default_factory=dict)
    env: OrderedEnv = field(default_factory=OrderedEnv)
    workdir: str = "/"
    user: str = ""
    shell: tuple[str, ...] = DEFAULT_SHELL
    # ARG pairs as dispatched (inherited ones first), for RUN history.
    build_args: list[tuple[str, str | None]] = field(default_factory=list)
    declared_args: set[str] = field(default_factory=set)
    cmd_set: bool = False
    platform: Platform = field(default_factory=Platform.host)
    base_pinned: str = ""
    dispatched: bool = False
    # Step names: "[display_name cmd_index/cmd_total] ..."; see naming.py.
    display_name: str = ""
    cmd_total: int = 0
    cmd_index: int = 0
    cmd_is_onbuild: bool = False  # the command being dispatched is a trigger
    workdir_set: bool = False  # a WORKDIR ran in this stage or a base stage

    @property
    def config(self) -> dict[str, Any]:
        """Return the ``config`` object of the image."""
        return self.image["config"]

    def add_history(
        self, created_by: str, *, empty_layer: bool, epoch: int | None
    ) -> None:
        """Append a history entry as BuildKit's ``commitToHistory`` does."""
        entry: dict[str, Any] = {"created_by": created_by, "comment": HISTORY_COMMENT}
        if empty_layer:
            entry["empty_layer"] = True
        if epoch is not None:
            entry["created"] = _rfc3339(epoch)
        self.image.setdefault("history", []).append(entry)

    def set_config_env(self, name: str, value: str) -> None:
        """Set ``name`` in the image's Env list, in place when already there."""
        env = self.config.get("Env") or []
        prefix = name + "="
        for index, item in enumerate(env):
            if item.startswith(prefix) or item == name:
                env[index] = f"{name}={value}"
                break
        else:
            env.append(f"{name}={value}")
        self.config["Env"] = env


def _rfc3339(epoch: int) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(epoch: float) -> str:
    """Return ``epoch`` in the RFC 3339 form image configs use (UTC, seconds)."""
    return _rfc3339(int(epoch))
