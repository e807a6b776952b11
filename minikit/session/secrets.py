"""Build secrets: parsed from ``--secret`` flags, read once, held in memory only.

The values live in a ``SecretStore`` whose ``repr`` shows ids only. minikit
writes them only into the tmpfs of the RUN that mounts them, into the
environment of a RUN with ``env=``, and into the private file from which a
running Git fetch reads its HTTP header.

``read_secret_values`` reads every secret before minikit starts any process,
and removes each variable an ``env`` secret came from out of minikit's
environment, so no child process inherits the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from minikit.errors import SecretError, UsageError

# buildx rejects secret files larger than this many bytes.
MAX_SECRET_SIZE = 500 * 1024


# Variables that stay in minikit's environment even when a secret is read
# from them, because the programs minikit starts need them.
KEPT_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL", "TMPDIR"}
)


@dataclass(frozen=True)
class SecretSpec:
    """One ``--secret`` flag: where the value of secret ``id`` comes from.

    ``value`` is the content once ``read_secret_values`` has read it; it
    never appears in ``repr``.
    """

    id: str
    kind: str  # "file" or "env"
    source: str
    value: bytes | None = field(default=None, repr=False, compare=False)


def read_secret_values(specs: list[SecretSpec], cwd: Path) -> list[SecretSpec]:
    """Read every secret now; remove the variables that ``env`` secrets came from.

    Call before starting any process, so a missing file fails before the
    build starts and no child process inherits a value. Raise SecretError
    for a secret that cannot be read.
    """
    loaded = [replace(spec, value=_read(spec, cwd)) for spec in specs]
    for spec in loaded:
        if spec.kind == "env" and spec.source not in KEPT_VARIABLES:
            _erase_variable(spec.source)
    return loaded


def _erase_variable(name: str) -> None:
    """Remove ``name`` from the environment and zero its value in process memory.

    ``unsetenv`` only unlinks the variable: the bytes stay in the block that
    ``/proc/PID/environ`` shows, for this process and every process forked
    from it (the namespace helper, the init of each RUN).
    """
    import ctypes

    prefix = name.encode("utf-8", "surrogateescape") + b"="
    try:
        libc = ctypes.CDLL(None)
        environ = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
    except (OSError, ValueError):
        os.environ.pop(name, None)
        return
    index = 0
    while environ[index] is not None:
        entry = environ[index]
        if entry.startswith(prefix):
            address = ctypes.cast(environ, ctypes.POINTER(ctypes.c_void_p))[index]
            ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
        index += 1
    os.environ.pop(name, None)


def parse_secret_flag(text: str) -> SecretSpec:
    """Parse ``[type=file|env,]id=ID[,src=PATH|source=PATH][,env=VAR]`` as buildx "
    "does."""
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
    def load(cls, specs: list[SecretSpec], cwd: Path) -> SecretStore:
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
    if spec.value is not None:
        return spec.value
    if spec.kind == "env":
        value = os.environ.get(spec.source)
        if value is None:
            raise SecretError(
                f"secret {spec.id}: environment variable {spec.source} is not set",
                hint=f"export {spec.source} before the build, or use --secret "
                f"id={spec.id},src=FILE",
            )
        return value.encode("utf-8", "surrogateescape")
    path = Path(spec.source).expanduser()
    if not path.is_absolute():
        path = cwd / path
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_SIZE:
            raise SecretError(
                f"secret {spec.id}: file {path} is {size} bytes, more than the 500 "
                "KiB limit",
                hint="pass a smaller file, or mount large data with RUN "
                "--mount=type=bind",
            )
        # Read one byte past the limit, so a device or pipe without a size
        # (such as /dev/zero) is rejected instead of read forever.
        with open(path, "rb") as handle:
            data = handle.read(MAX_SECRET_SIZE + 1)
        if len(data) > MAX_SECRET_SIZE:
            raise SecretError(
                f"secret {spec.id}: {path} holds more than the 500 KiB limit",
                hint="pass a smaller file, or mount large data with RUN "
                "--mount=type=bind",
            )
        return data
    except FileNotFoundError:
        raise SecretError(
            f"secret {spec.id}: failed to stat {path}: no such file",
            hint=f"check the path given in --secret id={spec.id},src=...",
        ) from None
    except OSError as exc:
        raise SecretError(
            f"secret {spec.id}: failed to read {path}: {exc.strerror}"
        ) from None
