"""Build secrets: parsed from ``--secret`` flags, read once, held in memory only.

The values live in a ``SecretStore`` whose ``repr`` shows ids only. Nothing
in minikit writes them anywhere but into the tmpfs of the RUN that mounts
them (or the environment of a RUN with ``env=``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from minikit.errors import SecretError, UsageError

# buildx rejects secret files larger than this many bytes.
MAX_SECRET_SIZE = 500 * 1024


@dataclass(frozen=True)
class SecretSpec:
    """One ``--secret`` flag: where the value of secret ``id`` comes from."""

    id: str
    kind: str  # "file" or "env"
    source: str


def parse_secret_flag(text: str) -> SecretSpec:
    """Parse ``[type=file|env,]id=ID[,src=PATH|source=PATH][,env=VAR]`` as buildx does."""
    fields: dict[str, str] = {}
    for item in _split_csv(text):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise UsageError(
                f"invalid --secret value {text!r}: field {item!r} must be key=value",
                hint="use --secret id=NAME,src=FILE or --secret id=NAME,env=VARIABLE",
            )
        if key not in ("type", "id", "src", "source", "env"):
            raise UsageError(
                f"invalid --secret value {text!r}: unexpected key {key!r}",
                hint="valid keys are type, id, src (or source) and env",
            )
        fields["src" if key == "source" else key] = value
    secret_id = fields.get("id", "")
    if not secret_id:
        raise UsageError(
            f"invalid --secret value {text!r}: id is required", hint="add id=NAME"
        )
    kind = fields.get("type", "")
    if kind not in ("", "file", "env"):
        raise UsageError(
            f"invalid --secret value {text!r}: unsupported type {kind!r}",
            hint="use type=file or type=env",
        )
    if kind == "env":
        return SecretSpec(
            secret_id, "env", fields.get("env") or fields.get("src") or secret_id
        )
    if kind == "file":
        return SecretSpec(secret_id, "file", fields.get("src") or secret_id)
    if "src" in fields:
        return SecretSpec(secret_id, "file", fields["src"])
    if "env" in fields:
        return SecretSpec(secret_id, "env", fields["env"])
    # Neither given: the variable of that name when it is set, else the file ./ID.
    if secret_id in os.environ:
        return SecretSpec(secret_id, "env", secret_id)
    return SecretSpec(secret_id, "file", secret_id)


def _split_csv(text: str) -> list[str]:
    import csv

    rows = list(csv.reader([text]))
    return [item for item in (rows[0] if rows else []) if item]


class SecretStore:
    """Secret values by id. ``repr`` and ``str`` never show a value."""

    def __init__(self, values: dict[str, bytes] | None = None) -> None:
        self._values = dict(values or {})

    @classmethod
    def load(cls, specs: list[SecretSpec], cwd: Path) -> "SecretStore":
        """Read every secret now, so a missing one fails before the build starts."""
        values: dict[str, bytes] = {}
        for spec in specs:
            values[spec.id] = _read(spec, cwd)
        return cls(values)

    def get(self, secret_id: str) -> bytes | None:
        """Return the value of ``secret_id``, or None when it was not given."""
        return self._values.get(secret_id)

    def ids(self) -> list[str]:
        """Return the ids of the secrets given, sorted."""
        return sorted(self._values)

    def values(self) -> list[bytes]:
        """Return every non-empty value, for the leak guard."""
        return [value for value in self._values.values() if value]

    def __repr__(self) -> str:
        return f"SecretStore(ids={self.ids()!r})"

    __str__ = __repr__


def _read(spec: SecretSpec, cwd: Path) -> bytes:
    if spec.kind == "env":
        value = os.environ.get(spec.source)
        if value is None:
            raise SecretError(
                f"secret {spec.id}: environment variable {spec.source} is not set",
                hint=f"export {spec.source} before the build, or use --secret id={spec.id},src=FILE",
            )
        return value.encode("utf-8", "surrogateescape")
    path = Path(spec.source).expanduser()
    if not path.is_absolute():
        path = cwd / path
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_SIZE:
            raise SecretError(
                f"secret {spec.id}: file {path} is {size} bytes, more than the 500 KiB limit",
                hint="pass a smaller file, or mount large data with RUN --mount=type=bind",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise SecretError(
            f"secret {spec.id}: failed to stat {path}: no such file",
            hint=f"check the path given in --secret id={spec.id},src=...",
        ) from None
    except OSError as exc:
        raise SecretError(
            f"secret {spec.id}: failed to read {path}: {exc.strerror}"
        ) from None
