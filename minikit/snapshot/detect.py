"""Choosing a snapshotter: overlayfs when a probe mount works here, else native.

The environment variable ``MINIKIT_SNAPSHOTTER`` overrides the choice:
``native`` always copies, ``overlayfs`` fails the build when the probe fails,
and ``auto`` (or no value) probes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from minikit.errors import MinikitError
from minikit.snapshot.base import Snapshotter
from minikit.snapshot.errors import SnapshotError
from minikit.snapshot.fsformat import is_opaque, is_whiteout
from minikit.snapshot.native import NativeSnapshotter
from minikit.snapshot.overlay import OverlaySnapshotter

logger = logging.getLogger(__name__)

SNAPSHOTTER_VARIABLE = "MINIKIT_SNAPSHOTTER"
SNAPSHOTTER_CHOICES = ("auto", "overlayfs", "native")


def detect_snapshotter(
    state_dir: Path, requested: str | None = None
) -> tuple[Snapshotter, str]:
    """Probe overlayfs once under ``state_dir`` and return the snapshotter to use.

    The probe mounts a tiny overlay, deletes a file and replaces a folder, and
    checks that the upper folder got a whiteout and an opaque marker. Call it
    inside the build's mount namespace. ``requested`` is one of
    ``SNAPSHOTTER_CHOICES``, read from ``MINIKIT_SNAPSHOTTER`` when None. The
    string is a one-line notice that names the snapshotter in use and why.
    Raises ``SnapshotError`` for an unknown choice, or for ``overlayfs`` when
    the probe fails.
    """
    choice = _requested_choice(requested)
    state_dir.mkdir(parents=True, exist_ok=True)
    if choice == "native":
        notice = (
            "snapshotter: native, which copies every layer, because "
            f"{SNAPSHOTTER_VARIABLE}=native"
        )
        return NativeSnapshotter(state_dir), notice
    overlay = OverlaySnapshotter(state_dir)
    probe = Path(tempfile.mkdtemp(prefix="overlay-probe-", dir=state_dir))
    try:
        failure = _probe_overlay(overlay, probe)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if failure is None:
        api = "the new mount API" if overlay.uses_new_mount_api else "mount(2)"
        return overlay, f"snapshotter: overlayfs (mounted through {api})"
    logger.info("overlayfs probe under %s failed: %s", state_dir, failure)
    if choice == "overlayfs":
        raise SnapshotError(
            f"failed to use the overlayfs snapshotter: overlayfs {failure}",
            hint=f"unset {SNAPSHOTTER_VARIABLE}, or set it to native to copy layers",
        )
    notice = (
        f"snapshotter: native, which copies every layer, because overlayfs {failure}"
    )
    return NativeSnapshotter(state_dir), notice


def _requested_choice(requested: str | None) -> str:
    if requested is None:
        requested = os.environ.get(SNAPSHOTTER_VARIABLE, "")
    choice = requested.strip().lower() or "auto"
    if choice not in SNAPSHOTTER_CHOICES:
        raise SnapshotError(
            f"invalid {SNAPSHOTTER_VARIABLE} value {requested!r}",
            hint=f"use one of {', '.join(SNAPSHOTTER_CHOICES)}",
        )
    return choice


def _probe_overlay(overlay: OverlaySnapshotter, probe: Path) -> str | None:
    """Return None when overlay works as minikit needs, else what went wrong."""
    lower, upper, work = probe / "lower", probe / "upper", probe / "work"
    (lower / "folder").mkdir(parents=True)
    (lower / "file").write_bytes(b"")
    (lower / "folder" / "inner").write_bytes(b"")
    try:
        with overlay.prepare([lower], upper, work) as merged:
            os.unlink(merged / "file")
            shutil.rmtree(merged / "folder")
            os.mkdir(merged / "folder")
    except (MinikitError, OSError) as error:
        return f"could not be mounted: {error}"
    if not is_whiteout(os.lstat(upper / "file")):
        return "did not record a deletion as a whiteout"
    if not is_opaque(upper / "folder"):
        return "did not mark a replaced folder opaque"
    return None
