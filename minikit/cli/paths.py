"""Checks of the paths that flags name: the state folder and result files.

They run before a build starts, so a typo fails in a second with the flag's
name, not after the build as an internal error.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from minikit.errors import ExportError, UsageError


def check_root(root: Path) -> Path:
    """Return ``root`` once it is a folder that minikit can write to; create it."""
    hint = "pass a folder that you can write to with --root, or leave --root out"
    if root.exists() and not root.is_dir():
        raise UsageError(
            f"invalid state folder (--root) {root}: it is not a directory", hint=hint
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".minikit-probe-", dir=root)
    except OSError as error:
        raise UsageError(
            f"invalid state folder (--root) {root}: cannot write to it "
            f"({error.strerror})",
            hint=hint,
        ) from None
    os.close(handle)
    os.unlink(probe)
    return root


def check_result_file(flag: str, text: str | None) -> Path | None:
    """Return the file that ``flag`` names, or None; raise UsageError when it cannot be one."""
    if text is None:
        return None
    path = Path(text)
    hint = f"give {flag} the name of a file in an existing folder you can write to"
    if not text:
        raise UsageError(f"invalid {flag} '': the path is empty", hint=hint)
    if path.is_dir():
        raise UsageError(f"invalid {flag} {text!r}: it is a directory", hint=hint)
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(
            f"invalid {flag} {text!r}: folder {str(folder)!r} does not exist", hint=hint
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"invalid {flag} {text!r}: folder {str(folder)!r} is not writable", hint=hint
        )
    return path


def write_result_file(flag: str, path: Path, text: str) -> None:
    """Write ``text`` to the file of ``flag``; raise ExportError when that fails."""
    try:
        path.write_text(text)
    except OSError as error:
        raise ExportError(
            f"failed to write {flag} {str(path)!r}: {error.strerror}",
            hint=f"give {flag} the name of a file in a folder you can write to",
        ) from None
