"""Tests of path resolution inside a rootfs and of mount stub cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minikit.executor.stubs import record_stubs, remove_stubs, resolve_in_root
from minikit.executor.syscalls import SetupError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "var/run").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/var/run", tmp_path / "run")
    os.symlink("../../..", tmp_path / "var/run/up")
    os.symlink("/", tmp_path / "var/escape")
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    return tmp_path


def test_resolve_plain_path(root: Path) -> None:
    assert resolve_in_root(str(root), "/etc/passwd") == "etc/passwd"


def test_resolve_absolute_symlink_stays_inside(root: Path) -> None:
    assert resolve_in_root(str(root), "/run/secrets/x") == "var/run/secrets/x"


def test_resolve_dotdot_cannot_escape(root: Path) -> None:
    assert resolve_in_root(str(root), "/../../etc") == "etc"
    assert resolve_in_root(str(root), "/var/run/up/etc") == "etc"


def test_resolve_symlink_to_root(root: Path) -> None:
    assert resolve_in_root(str(root), "/var/escape/etc") == "etc"


def test_resolve_root_itself(root: Path) -> None:
    assert resolve_in_root(str(root), "/") == ""


def test_resolve_symlink_loop(root: Path) -> None:
    with pytest.raises(SetupError) as caught:
        resolve_in_root(str(root), "/loop1/x")
    assert "Too many levels of symbolic links" in caught.value.message


def test_resolve_under_file(root: Path) -> None:
    with pytest.raises(SetupError) as caught:
        resolve_in_root(str(root), "/etc/passwd/x/y")
    assert "Not a directory" in caught.value.message


def test_record_stubs_missing_parents(root: Path) -> None:
    recorded = record_stubs(str(root), ["/run/secrets/x", "/etc/passwd", "/mnt/a"])
    assert recorded.paths == ("var/run/secrets", "var/run/secrets/x", "mnt", "mnt/a")


def test_remove_stubs_deepest_first(root: Path) -> None:
    recorded = record_stubs(str(root), ["/run/secrets/x", "/mnt/a"])
    (root / "var/run/secrets").mkdir()
    (root / "var/run/secrets/x").write_bytes(b"")
    (root / "mnt/a").mkdir(parents=True)
    removed = remove_stubs(recorded)
    assert removed == ("/var/run/secrets/x", "/var/run/secrets", "/mnt/a", "/mnt")
    assert not (root / "var/run/secrets").exists()
    assert not (root / "mnt").exists()


def test_remove_stubs_restores_parent_times(root: Path) -> None:
    recorded = record_stubs(str(root), ["/etc/hosts"])
    (root / "etc/hosts").write_bytes(b"")
    os.utime(root / "etc", ns=(1_000_000_000, 2_000_000_000))
    remove_stubs(recorded)
    info = os.stat(root / "etc")
    assert info.st_mtime_ns == 2_000_000_000
    assert info.st_atime_ns == 1_000_000_000


def test_remove_stubs_keeps_written_content(root: Path) -> None:
    recorded = record_stubs(str(root), ["/cache/dir", "/etc/hosts"])
    (root / "cache/dir").mkdir(parents=True)
    (root / "cache/dir/kept").write_text("data")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    assert remove_stubs(recorded) == ()
    assert (root / "cache/dir/kept").exists()
    assert (root / "etc/hosts").exists()


def test_remove_stubs_ignores_swapped_symlink(
    root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "victim").mkdir()
    recorded = record_stubs(str(root), ["/swap/victim"])
    os.symlink(str(outside), root / "swap")
    assert remove_stubs(recorded) == ()
    assert (outside / "victim").is_dir()
