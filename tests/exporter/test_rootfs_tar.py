"""The tar exporter: one plain, sorted tar of a root filesystem."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from minikit.errors import ExportError
from minikit.exporter import export_rootfs_tar

from .support import tar_members

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the fixture chowns files to 1000:1000, which needs root"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A merged view: folders, an owned file, a hardlink, a symlink and a fifo."""
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "b-file").write_bytes(b"b")
    (root / "a-file").write_bytes(b"a")
    (root / "usr" / "bin" / "tool").write_bytes(b"tool")
    os.link(root / "usr" / "bin" / "tool", root / "usr" / "bin" / "tool-link")
    os.symlink("usr/bin/tool", root / "link")
    os.mkfifo(root / "pipe")
    os.chown(root / "a-file", 1000, 1000)
    os.utime(root / "a-file", (1_234_567_890, 1_234_567_890))
    return root


def test_rootfs_tar_lists_everything(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "rootfs.tar"
    export_rootfs_tar(root, dest)
    members = tar_members(dest)

    assert list(members) == [
        "a-file",
        "b-file",
        "link",
        "pipe",
        "usr",
        "usr/bin",
        "usr/bin/tool",
        "usr/bin/tool-link",
    ]
    assert (members["a-file"].uid, members["a-file"].gid) == (1000, 1000)
    assert members["a-file"].uname == ""
    assert members["a-file"].mtime == 1_234_567_890
    assert members["usr/bin/tool-link"].islnk()
    assert members["usr/bin/tool-link"].linkname == "usr/bin/tool"
    assert members["link"].linkname == "usr/bin/tool"
    assert members["pipe"].isfifo()


def test_rootfs_tar_skips_whiteouts(root: Path) -> None:
    os.mknod(root / "deleted", stat.S_IFCHR, os.makedev(0, 0))
    out = io.BytesIO()
    export_rootfs_tar(root, out)

    assert "deleted" not in tar_members(out.getvalue())


def test_rootfs_tar_is_reproducible(root: Path, tmp_path: Path) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    export_rootfs_tar(root, first)
    export_rootfs_tar(root, second)

    assert first.getvalue() == second.getvalue()


def test_rootfs_tar_to_stream_matches_file(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "rootfs.tar"
    stream = io.BytesIO()
    export_rootfs_tar(root, dest)
    export_rootfs_tar(root, stream)

    assert stream.getvalue() == dest.read_bytes()
    with tarfile.open(dest) as tar:
        assert tar.extractfile("usr/bin/tool").read() == b"tool"  # type: ignore[union-attr]


def test_closed_pipe_is_reported(root: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with (
        open(write_end, "wb", buffering=0) as stream,
        pytest.raises(ExportError, match="failed to write the export stream"),
    ):
        export_rootfs_tar(root, stream)
