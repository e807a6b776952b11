"""Export destinations (atomic files or caller streams) and reproducible tars."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from minikit.errors import ExportError
from minikit.oci.spec import Descriptor
from minikit.snapshot.compression import DigestingWriter
from minikit.snapshot.tarentry import open_tar_writer

_COPY_CHUNK = 1 << 20
_DEFAULT_UMASK = 0o022


@contextlib.contextmanager
def open_output(dest: Path | BinaryIO) -> Iterator[DigestingWriter]:
    """Yield a stream that writes to ``dest``, a path or an open binary stream.

    A path is written under a temporary name in the same folder (created if
    missing) and renamed into place only when the body succeeds, so a failed
    export never leaves half a file. A stream is written to directly and left open.
    The yielded writer supports ``tell()``, so tarfile can write to pipes.
    """
    if not isinstance(dest, Path):
        writer = DigestingWriter(_GuardedStream(dest, "the export stream"))
        with _failure("write the export stream"):
            yield writer
            writer.flush()
        return
    with _failure(f"write {dest}"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"
        )
    temp = Path(temp_name)
    try:
        with _failure(f"write {dest}"), os.fdopen(fd, "wb") as handle:
            writer = DigestingWriter(_GuardedStream(handle, str(dest)))
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        with _failure(f"write {dest}"):
            os.chmod(temp, 0o666 & ~_umask())
            os.replace(temp, dest)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _failure(action: str) -> Iterator[None]:
    """Turn an OSError raised while ``action`` runs into an ExportError."""
    try:
        yield
    except OSError as error:
        raise ExportError(
            f"failed to {action}: {error.strerror or error}",
            hint="check that the destination folder exists, is writable and has space",
        ) from error


class _GuardedStream:
    """Raises ExportError for a failed write, so it is never taken for a read error."""

    def __init__(self, target: IO[bytes], label: str) -> None:
        self._target = target
        self._label = label

    def write(self, data: bytes) -> int:
        with _failure(f"write {self._label}"):
            return self._target.write(data)

    def flush(self) -> None:
        with _failure(f"write {self._label}"):
            self._target.flush()


def _umask() -> int:
    """Return the process umask without changing it (os.umask would race threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _DEFAULT_UMASK


class LayoutSink(Protocol):
    """Receives the files of an image layout, in sorted order."""

    def add_folder(self, name: str) -> None:
        """Create the folder ``name``."""
        ...

    def add_bytes(self, name: str, data: bytes) -> None:
        """Write the small file ``name``."""
        ...

    def add_blob(self, name: str, source: Path, descriptor: Descriptor) -> None:
        """Copy the blob ``source`` to ``name``, checking it against ``descriptor``."""
        ...


class TarSink:
    """Writes layout files into one reproducible tar (mtime 0, owner 0:0)."""

    def __init__(self, stream: DigestingWriter) -> None:
        self._tar = open_tar_writer(stream)

    def close(self) -> None:
        """Write the end-of-archive blocks."""
        self._tar.close()

    def add_folder(self, name: str) -> None:
        """Add a folder entry with mode 0755."""
        self._tar.addfile(_header(name.rstrip("/"), tarfile.DIRTYPE, 0o755, 0))

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add a regular file with mode 0644 and the content ``data``."""
        info = _header(name, tarfile.REGTYPE, 0o644, len(data))
        self._tar.addfile(info, _BytesReader(data))

    def add_blob(self, name: str, source: Path, descriptor: Descriptor) -> None:
        """Stream ``source`` into the tar, raising ExportError if its digest differs."""
        size = _checked_size(source, descriptor)
        with _open_blob(source) as content:
            reader = _VerifyingReader(content, descriptor, source)
            self._tar.addfile(_header(name, tarfile.REGTYPE, 0o644, size), reader)
            reader.check()


class FolderSink:
    """Writes layout files into a folder, renaming each into place when it is done."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def add_folder(self, name: str) -> None:
        """Create the folder ``name`` (and its parents) if missing."""
        with _failure(f"create {self._root / name}"):
            (self._root / name).mkdir(parents=True, exist_ok=True)

    def add_bytes(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``name`` atomically."""
        with open_output(self._root / name) as out:
            out.write(data)

    def add_blob(self, name: str, source: Path, descriptor: Descriptor) -> None:
        """Copy ``source`` to ``name`` atomically, checking its digest."""
        target = self._root / name
        _checked_size(source, descriptor)
        with open_output(target) as out, _open_blob(source) as content:
            reader = _VerifyingReader(content, descriptor, source)
            while chunk := reader.read(_COPY_CHUNK):
                out.write(chunk)
            reader.check()


def _header(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uname = ""
    info.gname = ""
    return info


def _open_blob(source: Path) -> IO[bytes]:
    with _failure(f"read the blob {source}"):
        return open(source, "rb")


def _checked_size(source: Path, descriptor: Descriptor) -> int:
    with _failure(f"read the blob {source}"):
        size = source.stat().st_size
    if size != descriptor.size:
        raise ExportError(
            f"blob {source} has {size} bytes, but its descriptor "
            f"{descriptor.digest} says {descriptor.size}",
            hint="the content store is damaged. Prune the cache and build again",
        )
    return size


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self._view)
        chunk, self._view = self._view[:size], self._view[size:]
        return bytes(chunk)


class _VerifyingReader:
    """Reads a blob while hashing it, so ``check()`` can compare with the descriptor."""

    def __init__(
        self, content: IO[bytes], descriptor: Descriptor, source: Path
    ) -> None:
        self._content = content
        self._descriptor = descriptor
        self._source = source
        self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._content.read(size)
        self._hash.update(chunk)
        return chunk

    def check(self) -> None:
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._descriptor.digest:
            raise ExportError(
                f"blob {self._source} has digest {actual}, "
                f"expected {self._descriptor.digest}",
                hint="the content store is damaged. Prune the cache and build again",
            )
