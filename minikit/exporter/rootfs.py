"""The ``tar`` exporter: the root filesystem of a merged view as one plain tar."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from minikit.errors import ExportError
from minikit.exporter.output import open_output
from minikit.snapshot.fsformat import is_whiteout
from minikit.snapshot.tarentry import (
    HardlinkTracker,
    add_to_tar,
    clamp_mtime,
    header_for,
    open_tar_writer,
    walk_sorted,
)


def export_rootfs_tar(root: Path, dest: Path | BinaryIO) -> None:
    """Write everything below ``root`` as one uncompressed tar to ``dest``.

    Entries are sorted (parents first), owners are numeric, mtimes are the files'
    own, hardlinks stay hardlinks, and whiteouts are left out. ``dest`` is a path
    (written atomically) or a stream such as stdout. Raises ExportError.
    """
    with open_output(dest) as out, open_tar_writer(out) as tar:
        links = HardlinkTracker()
        for name, path, st in walk_sorted(root):
            if is_whiteout(st):
                continue
            try:
                info = header_for(
                    name, path, st, mtime=clamp_mtime(st, None), links=links
                )
                if info is not None:
                    add_to_tar(tar, info, path)
            except OSError as error:
                raise ExportError(
                    f"failed to add {name!r} of {root} to the tar: "
                    f"{error.strerror or error}",
                    hint="check that the build result is readable",
                ) from error
