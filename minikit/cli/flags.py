"""Parsing of ``docker buildx build`` style flag values into request values."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from minikit.errors import UsageError
from minikit.frontend.convert.options import NamedContext
from minikit.worker.request import CacheSpec, OutputSpec, SSHSpec


def csv_fields(text: str) -> list[str]:
    """Split a comma-separated flag value, honouring double quotes as buildx does."""
    rows = list(csv.reader([text]))
    return [field.strip() for field in (rows[0] if rows else []) if field.strip()]


def parse_output(text: str) -> OutputSpec:
    """Parse ``-o``: ``type=T,k=v``, a bare folder (local), or ``-`` (tar to stdout)."""
    if text == "-":
        return OutputSpec("tar", {"dest": "-"})
    if "=" not in text and "," not in text:
        return OutputSpec("local", {"dest": text})
    attrs: dict[str, str] = {}
    for item in csv_fields(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(
                f"invalid output {text!r}: {item!r} is not key=value",
                hint="write -o type=oci,dest=FILE",
            )
        attrs[key.strip().lower()] = value
    kind = attrs.pop("type", "")
    if not kind:
        if "dest" in attrs:
            kind = "local"
        else:
            raise UsageError(
                f"invalid output {text!r}: type is missing",
                hint="write -o type=oci,dest=FILE",
            )
    if kind not in ("oci", "docker", "tar", "local", "image", "registry"):
        raise UsageError(
            f"invalid output {text!r}: unsupported type {kind!r}",
            hint="supported types: oci, docker, tar, local, image (with push=true), registry",
        )
    return OutputSpec(kind, attrs)


def parse_cache(text: str) -> CacheSpec:
    """Parse ``--cache-from``/``--cache-to``; a bare ref means ``type=registry,ref=REF``."""
    if "=" not in text:
        return CacheSpec("registry", {"ref": text})
    attrs: dict[str, str] = {}
    for item in csv_fields(text):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(
                f"invalid cache option {text!r}: {item!r} is not key=value"
            )
        attrs[key.strip().lower()] = value
    kind = attrs.pop("type", "registry")
    if kind not in ("local", "registry", "inline"):
        raise UsageError(
            f"invalid cache option {text!r}: unsupported type {kind!r}",
            hint="supported cache types: local, registry, inline",
        )
    return CacheSpec(kind, attrs)


def parse_ssh(text: str) -> SSHSpec:
    """Parse ``--ssh default|ID[=SOCKET|KEY[,KEY...]]``."""
    ssh_id, sep, rest = text.partition("=")
    ssh_id = ssh_id.strip() or "default"
    paths = tuple(item for item in rest.split(",") if item) if sep else ()
    return SSHSpec(ssh_id, paths)


def parse_build_arg(text: str) -> tuple[str, str | None]:
    """Parse ``--build-arg K=V``; a bare ``K`` takes its value from the environment."""
    key, sep, value = text.partition("=")
    if not key:
        raise UsageError(
            f"invalid --build-arg {text!r}: the name is empty",
            hint="write --build-arg NAME=VALUE",
        )
    if sep:
        return key, value
    return key, os.environ.get(key)


def parse_label(text: str) -> tuple[str, str]:
    """Parse ``--label K=V``."""
    key, _sep, value = text.partition("=")
    if not key:
        raise UsageError(
            f"invalid --label {text!r}: the name is empty",
            hint="write --label NAME=VALUE",
        )
    return key, value


def parse_build_context(text: str, cwd: Path) -> tuple[str, NamedContext]:
    """Parse ``--build-context name=PATH|docker-image://REF|oci-layout://PATH``."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise UsageError(
            f"invalid --build-context {text!r}: expected NAME=VALUE",
            hint="write --build-context name=./dir or name=docker-image://alpine:3.20",
        )
    if value.startswith("docker-image://"):
        return name, NamedContext("image", value[len("docker-image://") :])
    if value.startswith("oci-layout://"):
        return name, NamedContext("oci-layout", value[len("oci-layout://") :])
    if "://" in value:
        raise UsageError(
            f"invalid --build-context {text!r}: unsupported scheme",
            hint="use a folder, docker-image://REF or oci-layout://PATH",
        )
    path = Path(value)
    if not path.is_absolute():
        path = cwd / path
    if not path.is_dir():
        raise UsageError(f"invalid --build-context {text!r}: {path} is not a directory")
    return name, NamedContext("local", str(path.resolve()))
