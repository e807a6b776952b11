"""Look up users and groups in an image's ``/etc/passwd`` and ``/etc/group``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minikit.errors import SolveError
from minikit.util.fs import resolve_in_root


@dataclass(frozen=True)
class Identity:
    """A resolved user: ids, supplementary groups and home folder."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    home: str = "/"


def _read_table(root: Path, path: str) -> list[list[str]]:
    host = resolve_in_root(root, path)
    try:
        text = host.read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def lookup_user(root: Path, name: str) -> tuple[int, int, str]:
    """Return (uid, gid, home) of user ``name`` (a name or a number) in ``root``."""
    for row in _read_table(root, "/etc/passwd"):
        if len(row) >= 4 and (row[0] == name or (name.isdigit() and row[2] == name)):
            home = row[5] if len(row) > 5 else "/"
            return int(row[2]), int(row[3]), home
    if name.isdigit():
        return int(name), 0, "/"
    raise SolveError(
        f"unable to find user {name}: no matching entries in /etc/passwd",
        hint="create the user in an earlier RUN (adduser) or use a numeric id",
    )


def lookup_group(root: Path, name: str) -> int:
    """Return the gid of group ``name`` (a name or a number) in ``root``."""
    if name.isdigit():
        return int(name)
    for row in _read_table(root, "/etc/group"):
        if len(row) >= 3 and row[0] == name:
            return int(row[2])
    raise SolveError(
        f"unable to find group {name}: no matching entries in /etc/group",
        hint="create the group in an earlier RUN (addgroup) or use a numeric id",
    )


def resolve_chown(
    root: Path, user: str | None, group: str | None
) -> tuple[int | None, int | None]:
    """Resolve a ``--chown=user[:group]`` pair inside ``root`` to numeric ids.

    As in BuildKit, a user given without a group also sets the group to the
    user's primary group when the user is a name, and to the same number when
    it is numeric.
    """
    uid = gid = None
    if user:
        if user.isdigit():
            uid = int(user)
            gid = uid
        else:
            uid, gid, _home = lookup_user(root, user)
    if group:
        gid = lookup_group(root, group)
    return uid, gid
