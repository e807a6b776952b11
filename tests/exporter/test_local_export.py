"""The local exporter: a merged view copied into a host folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from minikit.exporter import export_local

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the fixture chowns files to 1000:1000, which needs root"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "config").write_bytes(b"config")
    (root / "etc" / "secret").write_bytes(b"secret")
    os.chmod(root / "etc" / "secret", 0o600)
    os.chown(root / "etc" / "config", 1000, 1000)
    os.link(root / "etc" / "config", root / "etc" / "config-link")
    os.symlink("etc/config", root / "link")
    (root / "replaced").mkdir()
    (root / "replaced" / "inside").write_bytes(b"inside")
    os.setxattr(root / "etc" / "config", "user.origin", b"build")
    for path in (root / "etc" / "config", root / "etc"):
        os.utime(path, (1_500_000_000, 1_500_000_000))
    os.chmod(root / "etc", 0o750)
    return root


def test_local_copies_tree(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    export_local(root, dest, preserve_owner=True)

    assert (dest / "etc" / "config").read_bytes() == b"config"
    assert stat.S_IMODE(os.lstat(dest / "etc" / "secret").st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(dest / "etc").st_mode) == 0o750
    assert os.lstat(dest / "etc").st_mtime == 1_500_000_000
    assert os.lstat(dest / "etc" / "config").st_mtime == 1_500_000_000
    assert os.readlink(dest / "link") == "etc/config"
    assert (
        os.lstat(dest / "etc" / "config-link").st_ino
        == os.lstat(dest / "etc" / "config").st_ino
    )
    assert os.getxattr(dest / "etc" / "config", "user.origin") == b"build"


def test_local_preserves_owner(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    export_local(root, dest, preserve_owner=True)

    config = os.lstat(dest / "etc" / "config")
    assert (config.st_uid, config.st_gid) == (1000, 1000)


def test_local_without_owner(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    export_local(root, dest, preserve_owner=False)

    config = os.lstat(dest / "etc" / "config")
    assert (config.st_uid, config.st_gid) == (os.getuid(), os.getgid())


def test_local_replaces_existing(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "etc").mkdir(parents=True)
    (dest / "etc" / "config").write_bytes(b"stale")
    (dest / "etc" / "extra").write_bytes(b"kept")
    (dest / "replaced").write_bytes(b"a file where the result has a folder")
    os.symlink(outside, dest / "link")
    export_local(root, dest, preserve_owner=True)

    assert (dest / "etc" / "config").read_bytes() == b"config"
    assert (dest / "etc" / "extra").read_bytes() == b"kept"
    assert (dest / "replaced" / "inside").read_bytes() == b"inside"
    assert os.readlink(dest / "link") == "etc/config"
    assert os.listdir(outside) == []
    assert not any(name.endswith(".minikit-tmp") for name in os.listdir(dest / "etc"))


def test_local_does_not_follow_dest_symlinks(root: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    dest.mkdir()
    os.symlink(outside, dest / "etc")
    export_local(root, dest, preserve_owner=True)

    assert not (dest / "etc").is_symlink()
    assert (dest / "etc" / "config").read_bytes() == b"config"
    assert os.listdir(outside) == []
