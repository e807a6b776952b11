"""Resolve a RUN's ``user`` string against the rootfs's passwd and group files.

The rules are BuildKit's (``executor/oci/user.go``) on top of runc's
``GetExecUser``. ``""`` and ``uid:gid`` need no lookup and get no
supplementary groups. A name, a lone uid, or a form with a group name is
looked up, and supplementary groups come from ``/etc/group`` membership
only when no group was given.
"""

from __future__ import annotations

from dataclasses import dataclass

from minikit.executor.syscalls import SetupError

PASSWD_PATH = "/etc/passwd"
GROUP_PATH = "/etc/group"
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class PasswdEntry:
    """One line of ``/etc/passwd``."""

    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class GroupEntry:
    """One line of ``/etc/group``."""

    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Identity:
    """The ids a RUN's process runs with, and the HOME it gets by default."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def parse_passwd(text: str) -> list[PasswdEntry]:
    """Parse ``/etc/passwd`` text, skipping comments and malformed lines."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if line.startswith("#") or len(fields) < 4:
            continue
        uid, gid = _parse_int(fields[2]), _parse_int(fields[3])
        if uid is None or gid is None:
            continue
        home = fields[5] if len(fields) > 5 else ""
        entries.append(PasswdEntry(fields[0], uid, gid, home))
    return entries


def parse_group(text: str) -> list[GroupEntry]:
    """Parse ``/etc/group`` text, skipping comments and malformed lines."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if line.startswith("#") or len(fields) < 3:
            continue
        gid = _parse_int(fields[2])
        if gid is None:
            continue
        members = tuple(m for m in fields[3].split(",") if m) if len(fields) > 3 else ()
        entries.append(GroupEntry(fields[0], gid, members))
    return entries


def _parse_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _parse_fast_id(text: str) -> int | None:
    if text == "root":
        return 0
    value = _parse_int(text)
    if value is None or value > 0xFFFFFFFF:
        return None
    return value


def resolve_identity(
    spec: str, passwd_text: str | None, group_text: str | None
) -> Identity:
    """Return the ids for ``spec``; ``None`` texts mean the file is missing.

    Raises ``SetupError`` for a name that is in neither file.
    """
    passwd = parse_passwd(passwd_text) if passwd_text is not None else []
    groups = parse_group(group_text) if group_text is not None else []
    user_part, has_group, group_part = spec.partition(":")
    if spec == "":
        return Identity(0, 0, (), _home_of(0, passwd))
    if has_group:
        uid, gid = _parse_fast_id(user_part), _parse_fast_id(group_part)
        if uid is not None and gid is not None:
            return Identity(uid, gid, (), _home_of(uid, passwd))
    uid, gid, matched_name = _lookup_user(user_part, passwd)
    gid, supplementary = _lookup_groups(group_part, matched_name, groups, gid)
    return Identity(uid, gid, supplementary, _home_of(uid, passwd))


def _lookup_user(user_part: str, passwd: list[PasswdEntry]) -> tuple[int, int, str]:
    numeric = _parse_int(user_part)
    for entry in passwd:
        # A numeric user is always a uid, even if some user has that name.
        matches = (
            entry.uid == numeric if numeric is not None else entry.name == user_part
        )
        if matches:
            return entry.uid, entry.gid, entry.name
    if numeric is None:
        raise SetupError(
            f"unable to find user {user_part}: no matching entries in {PASSWD_PATH}",
            hint="add the user to the image (for example with useradd) or use a numeric uid",
        )
    if numeric > MAX_ID:
        raise SetupError(f"invalid user {user_part}: uid is larger than {MAX_ID}")
    return numeric, 0, ""


def _lookup_groups(
    group_part: str, user_name: str, groups: list[GroupEntry], gid: int
) -> tuple[int, tuple[int, ...]]:
    if group_part == "":
        member_of = tuple(g.gid for g in groups if user_name and user_name in g.members)
        return gid, member_of
    numeric = _parse_int(group_part)
    for entry in groups:
        matches = (
            entry.gid == numeric if numeric is not None else entry.name == group_part
        )
        if matches:
            return entry.gid, ()
    if numeric is None:
        raise SetupError(
            f"unable to find group {group_part}: no matching entries in {GROUP_PATH}",
            hint="add the group to the image (for example with groupadd) or use a numeric gid",
        )
    if numeric > MAX_ID:
        raise SetupError(f"invalid group {group_part}: gid is larger than {MAX_ID}")
    return numeric, ()


def _home_of(uid: int, passwd: list[PasswdEntry]) -> str:
    for entry in passwd:
        if entry.uid == uid:
            return entry.home or "/"
    return "/"
