"""Packing an overlay-format diff dir into an OCI layer tar."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from minikit.snapshot.compression import (
    Compression,
    DigestingWriter,
    compressing,
    media_type_for,
)
from minikit.snapshot.errors import LayerError
from minikit.snapshot.fsformat import is_opaque, is_whiteout, lookup, read_xattrs
from minikit.snapshot.tarentry import (
    HardlinkTracker,
    add_to_tar,
    clamp_mtime,
    header_for,
    open_tar_writer,
    walk_sorted,
)

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


@dataclass(frozen=True)
class LayerInfo:
    """Identity of a written layer blob."""

    diff_id: str
    """sha256 digest of the uncompressed tar."""
    digest: str
    """sha256 digest of the blob as written (compressed)."""
    size: int
    """Size of the blob in bytes."""
    media_type: str
    """OCI layer media type that matches the compression."""


def write_layer_tar(
    diff_dir: Path,
    out: BinaryIO,
    *,
    compression: Compression = "gzip",
    source_date_epoch: int | None = None,
    lowers: Sequence[Path] = (),
) -> LayerInfo:
    """Write the OCI layer tar of the overlay-format ``diff_dir`` to ``out``.

    Whiteouts become ``.wh.NAME`` entries and opaque folders get a
    ``.wh..wh..opq`` entry. The same folder always gives the same bytes. With
    ``lowers`` (the chain below, top-most first), a folder that only exists because
    overlay copied it up, unchanged, is left out and only its changed children are
    written. The stream is written to as the tar is built, and nothing is buffered
    beyond one file's read chunk. Raises LayerError when a file cannot be read.
    """
    media_type = media_type_for(compression)
    blob = DigestingWriter(_BlobOutput(out))
    with compressing(compression, blob) as compressed:
        uncompressed = DigestingWriter(compressed)
        with open_tar_writer(uncompressed) as tar:
            packer = _Packer(tar, source_date_epoch, lowers)
            packer.pack(diff_dir)
    blob.flush()
    return LayerInfo(
        diff_id=uncompressed.digest,
        digest=blob.digest,
        size=blob.size,
        media_type=media_type,
    )


class _Packer:
    def __init__(
        self,
        tar: tarfile.TarFile,
        source_date_epoch: int | None,
        lowers: Sequence[Path],
    ) -> None:
        self._tar = tar
        self._epoch = source_date_epoch
        self._lowers = lowers
        self._links = HardlinkTracker()

    def pack(self, diff_dir: Path) -> None:
        for name, path, st in walk_sorted(diff_dir):
            try:
                self._pack_entry(name, path, st)
            except OSError as error:
                raise LayerError(
                    f"failed to pack {name!r} of {diff_dir} into a layer tar: "
                    f"{error.strerror or error}",
                    hint="check that the layer folder is readable and not changing",
                ) from error

    def _pack_entry(self, name: str, path: Path, st: os.stat_result) -> None:
        if is_whiteout(st):
            self._add_marker(_whiteout_name(name), st, mode=0o600)
            return
        if stat.S_ISDIR(st.st_mode):
            self._pack_folder(name, path, st)
            return
        self._add_file(name, path, st)

    def _pack_folder(self, name: str, path: Path, st: os.stat_result) -> None:
        if is_opaque(path):
            self._add_file(name, path, st)
            self._add_marker(
                f"{name}/{OPAQUE_MARKER}", st, mode=stat.S_IMODE(st.st_mode)
            )
        elif not self._is_copied_up(name, path, st):
            self._add_file(name, path, st)

    def _is_copied_up(self, name: str, path: Path, st: os.stat_result) -> bool:
        """Tell whether a lower layer has this folder with the same metadata."""
        if not self._lowers:
            return False
        lower = lookup(self._lowers, name)
        if lower is None:
            return False
        lower_st = os.lstat(lower)
        same_stat = (
            lower_st.st_mode == st.st_mode
            and lower_st.st_uid == st.st_uid
            and lower_st.st_gid == st.st_gid
            and lower_st.st_mtime_ns == st.st_mtime_ns
        )
        return same_stat and read_xattrs(lower) == read_xattrs(path)

    def _add_file(self, name: str, path: Path, st: os.stat_result) -> None:
        mtime = clamp_mtime(st, self._epoch)
        info = header_for(name, path, st, mtime=mtime, links=self._links)
        if info is not None:
            add_to_tar(self._tar, info, path)

    def _add_marker(self, name: str, st: os.stat_result, *, mode: int) -> None:
        """Add an empty regular file that marks a whiteout or an opaque folder."""
        info = tarfile.TarInfo(name)
        info.type = tarfile.REGTYPE
        info.mode = mode
        info.uid = st.st_uid
        info.gid = st.st_gid
        info.uname = ""
        info.gname = ""
        info.mtime = clamp_mtime(st, self._epoch)
        self._tar.addfile(info)


class _BlobOutput:
    """Raises LayerError for a failed write, so it is never taken for a read error."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        try:
            return self._out.write(data)
        except OSError as error:
            raise LayerError(
                f"failed to write the layer blob: {error.strerror or error}",
                hint="check free space where layer blobs are stored",
            ) from error

    def flush(self) -> None:
        self._out.flush()


def _whiteout_name(name: str) -> str:
    folder, _, base = name.rpartition("/")
    marker = WHITEOUT_PREFIX + base
    return f"{folder}/{marker}" if folder else marker
