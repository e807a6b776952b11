"""Independent readers and writers of layer tars for the tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

TYPE_NAMES = {
    tarfile.REGTYPE: "file",
    tarfile.DIRTYPE: "folder",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class Entry:
    """One tar entry, with everything a layer carries."""

    name: str
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: int
    uname: str
    gname: str
    linkname: str = ""
    sha256: str = ""
    device: tuple[int, int] = (0, 0)
    xattrs: dict[str, bytes] = field(default_factory=dict)


def uncompressed(blob: bytes) -> bytes:
    """Return the tar inside a gzip, zstd or plain blob."""
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob)).read()
    return blob


def read_entries(blob: bytes) -> list[Entry]:
    """Return every entry of a (possibly compressed) tar, in archive order."""
    entries = []
    data = io.BytesIO(uncompressed(blob))
    with tarfile.open(
        fileobj=data, mode="r:", encoding="utf-8", errors="surrogateescape"
    ) as tar:
        for member in tar:
            content = tar.extractfile(member) if member.isreg() else None
            digest = hashlib.sha256(content.read()).hexdigest() if content else ""
            xattrs = {
                key.removeprefix("SCHILY.xattr."): value.encode(
                    "utf-8", "surrogateescape"
                )
                for key, value in member.pax_headers.items()
                if key.startswith("SCHILY.xattr.")
            }
            entries.append(
                Entry(
                    name=member.name,
                    kind=TYPE_NAMES.get(member.type, repr(member.type)),
                    mode=member.mode,
                    uid=member.uid,
                    gid=member.gid,
                    mtime=int(member.mtime),
                    uname=member.uname,
                    gname=member.gname,
                    linkname=member.linkname,
                    sha256=digest,
                    device=(member.devmajor, member.devminor),
                    xattrs=xattrs,
                )
            )
    return entries


def by_name(entries: list[Entry]) -> dict[str, Entry]:
    """Index entries by name, without the trailing slash of folders."""
    return {entry.name.rstrip("/"): entry for entry in entries}


def add_entry(
    tar: tarfile.TarFile,
    name: str,
    kind: bytes = tarfile.REGTYPE,
    data: bytes = b"",
    **fields: Any,
) -> None:
    """Append one entry, setting TarInfo attributes (uid, linkname) from ``fields``."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = fields.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.mtime = fields.pop("mtime", 1_600_000_000)
    for key, value in fields.items():
        setattr(info, key, value)
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def write_tar(path: Path, entries: list[tuple[Any, ...]]) -> Path:
    """Write a plain PAX tar of ``(name, kind, data, fields)`` tuples to ``path``."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, fields in entries:
            add_entry(tar, name, kind, data, **fields)
    return path
