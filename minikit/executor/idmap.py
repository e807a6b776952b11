"""User-namespace id maps: subordinate ranges, map files and map text."""

from __future__ import annotations

from minikit.executor.types import IdMapping


def parse_subordinate_ranges(
    text: str, user_name: str, user_id: int
) -> list[tuple[int, int]]:
    """Return the ``(start, count)`` ranges that ``/etc/subuid``-style ``text``
    grants to the user, who may be listed by name or by numeric id."""
    ranges: list[tuple[int, int]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 3 or fields[0] not in (user_name, str(user_id)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if count > 0:
            ranges.append((start, count))
    return ranges


def read_subordinate_ranges(
    path: str, user_name: str, user_id: int
) -> list[tuple[int, int]]:
    """Read ``path`` (``/etc/subuid`` or ``/etc/subgid``); a missing file grants nothing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return parse_subordinate_ranges(handle.read(), user_name, user_id)
    except FileNotFoundError:
        return []


def parse_id_map(text: str) -> tuple[IdMapping, ...]:
    """Parse the content of a ``/proc/PID/uid_map`` or ``gid_map`` file."""
    mappings = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            mappings.append(IdMapping(int(fields[0]), int(fields[1]), int(fields[2])))
    return tuple(mappings)


def read_id_map(path: str) -> tuple[IdMapping, ...]:
    """Read and parse a map file such as ``/proc/self/uid_map``."""
    with open(path, encoding="ascii") as handle:
        return parse_id_map(handle.read())


def format_id_map(mappings: tuple[IdMapping, ...]) -> str:
    """Return ``mappings`` as the text the kernel expects in a map file."""
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)


def identity_of(mappings: tuple[IdMapping, ...]) -> tuple[IdMapping, ...]:
    """Map every id that ``mappings`` makes valid onto itself.

    A RUN's user namespace is a child of the build namespace, so its map
    refers to the build namespace's ids: the identity keeps file owners
    unchanged between the two.
    """
    return tuple(IdMapping(m.container_id, m.container_id, m.size) for m in mappings)


def is_mapped(mappings: tuple[IdMapping, ...], container_id: int) -> bool:
    """Return whether ``container_id`` falls inside one of ``mappings``."""
    return any(
        m.container_id <= container_id < m.container_id + m.size for m in mappings
    )
