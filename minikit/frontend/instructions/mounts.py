"""``RUN --mount`` values: CSV ``key=value`` fields checked as BuildKit checks them."""

from __future__ import annotations

import posixpath
import re

from minikit.frontend.instructions.commands import Expander, MountSpec
from minikit.frontend.instructions.suggest import did_you_mean

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required",
    "size", "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw",
    "readwrite", "env",
)  # fmt: skip
_BOOL_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_BOOL_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_OCTAL = re.compile(r"[0-7]+\Z")
_DECIMAL = re.compile(r"[0-9]+\Z")
# docker/go-units RAMInBytes: a number, an optional binary unit, optional "b".
_RAM = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?\Z")
_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_MAX_UINT32 = 2**32 - 1
_CSV_HINT = 'quote a whole field that holds a comma or quote, as in "target=/a,b"'


class MountError(ValueError):
    """A ``--mount`` value that BuildKit rejects."""

    def __init__(
        self, message: str, hint: str | None = None, word: str | None = None
    ) -> None:
        super().__init__(message)
        self.hint = hint
        self.word = word  # the CSV field at fault, when there is one


class _State:
    """The mount being built, and whether readonly was set explicitly."""

    def __init__(self) -> None:
        self.mount = MountSpec()
        self.readonly_auto = True


def parse_mount(value: str, expander: Expander | None) -> MountSpec:
    """Parse one ``--mount`` value.

    With ``expander`` None, only what can be checked before expansion is
    checked (``from`` may hold no ``$``), as BuildKit does at parse time;
    the result is then incomplete.
    """
    state = _State()
    for field in split_csv(value):
        key, has_value, text = field.partition("=")
        key = key.lower()
        if not has_value:
            if expander is not None:
                _bare_word(state, key, field)
            continue
        if key == "from":
            _check_from(text)
        elif expander is None:
            continue
        else:
            text = expander(text)
        _apply(state, key, text, field)
    _validate(state)
    _fill_defaults(state.mount)
    return state.mount


def _check_from(text: str) -> None:
    # A "$" followed by anything would be an expansion, which 'from' refuses.
    if "$" in text[:-1]:
        raise MountError(
            "'from' doesn't support variable expansion, define alias stage instead",
            hint="add 'FROM <image> AS <name>' and use from=<name>",
        )


def _bare_word(state: _State, key: str, field: str) -> None:
    mount = state.mount
    if key in ("readonly", "ro"):
        mount.readonly, state.readonly_auto = True, False
    elif key in ("readwrite", "rw"):
        mount.readonly, state.readonly_auto = False, False
    elif key == "required":
        _check_required_allowed(mount)
        mount.required = True
    else:
        raise MountError(
            f"invalid field '{field}' must be a key=value pair",
            hint="write key=value; only ro, rw, readonly, readwrite and required "
            "stand alone",
            word=field,
        )


def _check_required_allowed(mount: MountSpec) -> None:
    # Checked against the type seen so far, so "required,type=secret" fails.
    if mount.type not in ("secret", "ssh"):
        raise MountError(
            f"unexpected key 'required' for mount type '{mount.type}'",
            hint="put type=secret or type=ssh before 'required'",
        )


def _apply(state: _State, key: str, text: str, field: str) -> None:
    mount = state.mount
    if key == "type":
        mount.type = _mount_type(text)
    elif key == "from":
        mount.from_ = text
    elif key in ("source", "src"):
        mount.source = text
    elif key in ("target", "dst", "destination"):
        mount.target = text
    elif key in ("readonly", "ro"):
        mount.readonly, state.readonly_auto = _parse_bool(key, text), False
    elif key in ("readwrite", "rw"):
        mount.readonly, state.readonly_auto = not _parse_bool(key, text), False
    elif key == "required":
        _check_required_allowed(mount)
        mount.required = _parse_bool(key, text)
    else:
        _apply_option(mount, key, text, field)


def _apply_option(mount: MountSpec, key: str, text: str, field: str) -> None:
    if key == "size":
        if mount.type != "tmpfs":
            raise MountError(
                f"unexpected key 'size' for mount type '{mount.type}'",
                hint="size= is only for type=tmpfs; put type=tmpfs before it",
                word="size=" + text,
            )
        mount.size = _ram_in_bytes(text)
    elif key == "id":
        mount.id = text
    elif key == "sharing":
        mount.sharing = _sharing(text)
    elif key in ("mode", "uid", "gid"):
        setattr(mount, key, _parse_uint(key, text))
    elif key == "env":
        mount.env = text
    else:
        raise MountError(
            f"unexpected key '{key}' in '{field}'",
            hint=did_you_mean(key, _KEYS, case_sensitive=True)
            or "see the RUN --mount reference for the keys of each mount type",
            word=field,
        )


def _mount_type(text: str) -> str:
    lowered = text.lower()
    if lowered not in MOUNT_TYPES:
        raise MountError(
            f'unsupported mount type "{text}"',
            hint=did_you_mean(text, MOUNT_TYPES, case_sensitive=True)
            or "use type=bind, cache, tmpfs, secret or ssh",
            word="type=" + text,
        )
    return lowered


def _sharing(text: str) -> str:
    lowered = text.lower()
    if lowered not in SHARING_MODES:
        raise MountError(
            f'unsupported sharing value "{text}"',
            hint=did_you_mean(text, SHARING_MODES, case_sensitive=True)
            or "use sharing=shared, private or locked",
            word="sharing=" + text,
        )
    return lowered


def _parse_bool(key: str, text: str) -> bool:
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise MountError(
        f"invalid value for {key}: {text}",
        hint="use true or false",
        word=f"{key}={text}",
    )


def _parse_uint(key: str, text: str) -> int:
    pattern, base = (_OCTAL, 8) if key == "mode" else (_DECIMAL, 10)
    if pattern.match(text) and int(text, base) <= _MAX_UINT32:
        return int(text, base)
    kind = "an octal number such as 0755" if key == "mode" else "a decimal number"
    raise MountError(
        f"invalid value {text} for {key}", hint=f"use {kind}", word=f"{key}={text}"
    )


def _ram_in_bytes(text: str) -> int:
    match = _RAM.match(text)
    number = 0.0
    if match:
        try:
            number = float(match.group(1))
        except ValueError:
            match = None
    if match is None:
        raise MountError(
            f"invalid value for size: {text}",
            hint="use a size such as 64m or 1g",
            word="size=" + text,
        )
    unit = (match.group(2) or "").lower()
    return int(number * _RAM_UNITS.get(unit, 1))


def _validate(state: _State) -> None:
    mount = state.mount
    if mount.type not in ("cache", "secret", "ssh"):
        for key in ("mode", "uid", "gid"):
            if getattr(mount, key) is not None:
                raise MountError(
                    f'{key} not allowed for "{mount.type}" type mounts',
                    hint=f"{key}= is only for cache, secret and ssh mounts",
                    word=key + "=",
                )
    if state.readonly_auto:
        mount.readonly = mount.type not in ("cache", "tmpfs")
    if mount.type == "secret":
        _validate_secret(mount)
    if mount.type == "ssh" and mount.source:
        raise MountError(
            "ssh does not support source", hint="use id= to pick the agent"
        )
    if mount.sharing and mount.type != "cache":
        raise MountError(
            f"invalid cache sharing set for {mount.type} mount",
            hint="sharing= is only for type=cache",
            word="sharing=",
        )


def _validate_secret(mount: MountSpec) -> None:
    if mount.from_:
        raise MountError(
            "secret mount should not have a from",
            hint="remove from=; a secret comes from --secret on the command line",
            word="from=",
        )
    if mount.sharing:
        raise MountError(
            "secret mount should not define sharing",
            hint="remove sharing= from the secret mount",
            word="sharing=",
        )
    if not (mount.source or mount.target or mount.id):
        raise MountError(
            "invalid secret mount. one of source, target required",
            hint="add id=<secret id> or target=<path>",
        )
    if mount.source and mount.id:
        raise MountError(
            "both source and id can't be set", hint="keep only id=", word="id="
        )


def _fill_defaults(mount: MountSpec) -> None:
    if mount.type == "cache":
        mount.sharing = mount.sharing or "shared"
        mount.id = mount.id or posixpath.normpath(mount.target)
    elif mount.type == "secret":
        mount.id = mount.id or mount.source or posixpath.basename(mount.target)
    elif mount.type == "ssh":
        mount.id = mount.id or "default"


def split_csv(value: str) -> list[str]:
    """Split one CSV record into fields, with ``"`` quoting as Go's encoding/csv."""
    fields: list[str] = []
    pos = 0
    while True:
        if value.startswith('"', pos):
            field, pos = _quoted_field(value, pos)
        else:
            end = value.find(",", pos)
            end = len(value) if end < 0 else end
            field = value[pos:end]
            if '"' in field:
                column = pos + field.index('"') + 1
                raise MountError(
                    "failed to parse csv mounts: parse error on line 1, "
                    f"column {column}: "
                    'bare " in non-quoted-field',
                    hint=_CSV_HINT,
                )
            pos = end
        fields.append(field)
        if pos >= len(value):
            return fields
        pos += 1  # the comma


def _quoted_field(value: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    index = pos + 1
    while True:
        end = value.find('"', index)
        if end < 0:
            raise MountError(
                "failed to parse csv mounts: parse error on line 1, column "
                f'{len(value) + 1}: extraneous or missing " in quoted-field',
                hint=_CSV_HINT,
            )
        out.append(value[index:end])
        if value.startswith('"', end + 1):
            out.append('"')
            index = end + 2
            continue
        after = end + 1
        if after < len(value) and value[after] != ",":
            raise MountError(
                "failed to parse csv mounts: parse error on line 1, column "
                f'{after + 1}: extraneous or missing " in quoted-field',
                hint=_CSV_HINT,
            )
        return "".join(out), after
