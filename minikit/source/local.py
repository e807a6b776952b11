"""Content checksums of files in local folders (the build context, named contexts).

A COPY from the context is keyed on what it selects: each entry's relative
path, type, permission bits, size and content digest (or link target). File
owners and modification times are left out: context files become root-owned
in the image whatever their owner on the host, and a fresh checkout must hit
the cache that an older one filled.

Reading every byte on each build would be slow for big contexts, so content
digests are remembered per (device, inode, size, mtime, ctime); a file whose
stat is unchanged is not read again.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import Iterable, Protocol

# Read files in chunks of this many bytes when hashing.
_CHUNK = 1 << 20


class Entry(Protocol):
    """What ``checksum_entries`` needs of an entry (see ``minikit.ops.copy.SourceEntry``)."""

    rel: str
    host: Path
    info: os.stat_result


class FileDigestCache:
    """Content digests of files, remembered by their stat identity for this process."""

    def __init__(self) -> None:
        self._digests: dict[tuple[int, int, int, int, int], str] = {}
        self._lock = threading.Lock()

    def digest(self, path: Path, info: os.stat_result) -> str:
        """Return the sha256 hex digest of the regular file ``path``."""
        key = (
            info.st_dev,
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
        )
        with self._lock:
            cached = self._digests.get(key)
        if cached is not None:
            return cached
        hasher = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        with self._lock:
            self._digests[key] = digest
        return digest


def entry_digest(entry: Entry, cache: FileDigestCache) -> str:
    """Return one line describing ``entry`` for a checksum."""
    info = entry.info
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode):
        body = f"f {mode:o} {info.st_size} {cache.digest(entry.host, info)}"
    elif stat.S_ISDIR(info.st_mode):
        body = f"d {mode:o}"
    elif stat.S_ISLNK(info.st_mode):
        body = f"l {os.readlink(entry.host)}"
    else:
        body = f"o {stat.S_IFMT(info.st_mode):o} {mode:o} {info.st_rdev}"
    return f"{entry.rel}\0{body}"


def checksum_entries(
    entries: Iterable[Entry], cache: FileDigestCache
) -> tuple[str, dict[str, str]]:
    """Return the digest of all entries, and a digest per entry for ``--explain-cache``."""
    total = hashlib.sha256()
    per_entry: dict[str, str] = {}
    for entry in entries:
        line = entry_digest(entry, cache)
        total.update(line.encode("utf-8", "surrogateescape") + b"\n")
        per_entry[entry.rel or "."] = hashlib.sha256(
            line.encode("utf-8", "surrogateescape")
        ).hexdigest()[:16]
    return "sha256:" + total.hexdigest(), per_entry
