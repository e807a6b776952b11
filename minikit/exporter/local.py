"""The ``local`` exporter: a merged view copied into a folder on the host."""

from __future__ import annotations

import stat
from pathlib import Path

from minikit.errors import ExportError
from minikit.snapshot.copy import TreeCopier
from minikit.snapshot.fsformat import is_whiteout
from minikit.snapshot.tarentry import walk_sorted


def export_local(root: Path, dest: Path, *, preserve_owner: bool) -> None:
    """Copy everything below ``root`` into the folder ``dest``.

    ``dest`` is created if missing. An existing entry of the same name is
    replaced, files atomically, and other existing entries are kept. Modes,
    mtimes, xattrs and hardlinks are kept. Owners are kept only with
    ``preserve_owner``. Otherwise the files belong to the user running minikit,
    as they must when it runs rootless. Raises ExportError.
    """
    copier = TreeCopier(preserve_owner=preserve_owner)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for name, path, st in walk_sorted(root):
            if is_whiteout(st):
                continue
            if stat.S_ISDIR(st.st_mode):
                copier.copy_folder(path, st, dest / name)
            else:
                copier.copy_other(path, st, dest / name)
        copier.finish()
    except OSError as error:
        raise ExportError(
            f"failed to export {root} to {dest}: {error}",
            hint="check that the destination is writable and has space",
        ) from error
