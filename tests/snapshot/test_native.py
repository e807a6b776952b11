"""The native snapshotter's change detection, run in-process (no namespaces needed)."""

from __future__ import annotations

import os
from pathlib import Path

from minikit.snapshot import NativeSnapshotter, is_whiteout


def test_native_sees_same_size_rewrite(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "file").write_bytes(b"before")
    snapshotter = NativeSnapshotter(tmp_path / "state")

    with snapshotter.prepare([lower], tmp_path / "upper", tmp_path / "work") as merged:
        stat_before = os.stat(merged / "file")
        (merged / "file").write_bytes(b"after!")
        os.utime(merged / "file", ns=(stat_before.st_atime_ns, stat_before.st_mtime_ns))

    assert (tmp_path / "upper" / "file").read_bytes() == b"after!"


def test_native_unchanged_gives_empty_diff(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    (lower / "folder").mkdir(parents=True)
    (lower / "folder" / "file").write_bytes(b"data")
    snapshotter = NativeSnapshotter(tmp_path / "state")

    with snapshotter.prepare([lower], tmp_path / "upper", tmp_path / "work") as merged:
        assert (merged / "folder" / "file").read_bytes() == b"data"

    assert os.listdir(tmp_path / "upper") == []
    assert not (tmp_path / "work" / "merged").exists()


def test_native_failing_body_writes_nothing(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "file").write_bytes(b"data")
    snapshotter = NativeSnapshotter(tmp_path / "state")

    try:
        with snapshotter.prepare(
            [lower], tmp_path / "upper", tmp_path / "work"
        ) as merged:
            (merged / "file").unlink()
            raise KeyError("body failed")
    except KeyError:
        pass

    assert os.listdir(tmp_path / "upper") == []
    assert not (tmp_path / "work" / "merged").exists()


def test_native_merges_chain_order(tmp_path: Path) -> None:
    top, bottom = tmp_path / "top", tmp_path / "bottom"
    (bottom / "folder").mkdir(parents=True)
    (bottom / "folder" / "old").write_bytes(b"old")
    (bottom / "file").write_bytes(b"bottom")
    (top / "folder").mkdir(parents=True)
    (top / "file").write_bytes(b"top")
    os.setxattr(top / "folder", "user.overlay.opaque", b"y")
    snapshotter = NativeSnapshotter(tmp_path / "state")

    with snapshotter.view([top, bottom]) as root:
        assert (root / "file").read_bytes() == b"top"
        assert os.listdir(root / "folder") == []
        assert os.listxattr(root / "folder") == []


def test_native_deletion_makes_whiteout(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    (lower / "folder").mkdir(parents=True)
    (lower / "folder" / "file").write_bytes(b"data")
    snapshotter = NativeSnapshotter(tmp_path / "state")

    with snapshotter.prepare([lower], tmp_path / "upper", tmp_path / "work") as merged:
        (merged / "folder" / "file").unlink()

    assert is_whiteout(os.lstat(tmp_path / "upper" / "folder" / "file"))
