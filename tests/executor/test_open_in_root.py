"""Tests of ``open_in_root``, which resolves a cache mount's ``source`` for the executor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minikit.executor.protocol import RunRequest, decode_request, encode_request
from minikit.executor.syscalls import SetupError, open_in_root
from minikit.executor.types import MountSpec, RunSpec


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "real" / "deep" / "file").write_text("inside")
    (tmp_path / "relative").symlink_to("real")
    (tmp_path / "absolute").symlink_to("/real/deep")
    (tmp_path / "escape").symlink_to("/etc")
    (tmp_path / "climb").symlink_to("../../../../etc")
    return tmp_path


def _opened(root: Path, path: str) -> str:
    descriptor = open_in_root(str(root), path)
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    finally:
        os.close(descriptor)


@pytest.mark.parametrize(
    "path,expected",
    [
        ("real", "real"),
        ("/real/deep", "real/deep"),
        ("relative/deep", "real/deep"),
        ("absolute", "real/deep"),
        ("absolute/file", "real/deep/file"),
        ("../real", "real"),
    ],
)
def test_resolves_inside(root: Path, path: str, expected: str):
    assert _opened(root, path) == str(root / expected)


@pytest.mark.parametrize(
    "path", ["escape", "escape/passwd", "climb", "../../etc/passwd"]
)
def test_never_leaves_root(root: Path, path: str):
    with pytest.raises(SetupError) as raised:
        open_in_root(str(root), path)
    assert raised.value.message == f"failed to open {path}: No such file or directory"


def test_missing_root(tmp_path: Path):
    with pytest.raises(SetupError) as raised:
        open_in_root(str(tmp_path / "absent"), "x")
    assert raised.value.message.endswith("absent: No such file or directory")


def test_selector_round_trip():
    mount = MountSpec("/cache", "bind", "/var/cache/x", selector="sub/dir")
    request = RunRequest(RunSpec(rootfs="/r", args=("true",), env=(), mounts=(mount,)))
    assert decode_request(encode_request(request)).spec.mounts == (mount,)
