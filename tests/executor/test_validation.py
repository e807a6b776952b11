"""Tests of the checks the build process makes before it sends a RUN."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import ExecutorError
from minikit.executor.executor import build_request, validate_spec
from minikit.executor.types import MountSpec, RunSpec


def spec_for(rootfs: Path, **fields: object) -> RunSpec:
    values: dict[str, object] = {"args": ("/bin/true",), "env": (), "network": "none"}
    values.update(fields)
    return RunSpec(rootfs=str(rootfs), **values)  # type: ignore[arg-type]


def test_validate_missing_rootfs(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError) as caught:
        validate_spec(spec_for(tmp_path / "absent"))
    assert f"rootfs {tmp_path / 'absent'} does not exist" in caught.value.message
    assert caught.value.hint


def test_validate_empty_args(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="no command given"):
        validate_spec(spec_for(tmp_path, args=()))


def test_validate_relative_cwd(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="is not absolute"):
        validate_spec(spec_for(tmp_path, cwd="work"))


def test_validate_network_mode(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="invalid network mode 'bridge'"):
        validate_spec(spec_for(tmp_path, network="bridge"))


def test_validate_mount_root_destination(tmp_path: Path) -> None:
    mount = MountSpec(dest="/", type="tmpfs")
    with pytest.raises(ExecutorError, match="invalid destination '/'"):
        validate_spec(spec_for(tmp_path, mounts=(mount,)))


def test_validate_bind_source_missing(tmp_path: Path) -> None:
    mount = MountSpec(dest="/data", type="bind", source=str(tmp_path / "nothing"))
    with pytest.raises(ExecutorError, match="no such file or directory"):
        validate_spec(spec_for(tmp_path, mounts=(mount,)))


def test_build_request_files(tmp_path: Path) -> None:
    request = build_request(spec_for(tmp_path, hostname="box"))
    assert request.files["hostname"] == "box\n"
    assert "localhost box" in request.files["hosts"]
    assert request.slirp4netns == ""


def test_build_request_without_slirp4netns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExecutorError) as caught:
        build_request(spec_for(tmp_path, network="default"))
    assert "slirp4netns was not found" in caught.value.message
    assert "Debian package slirp4netns" in (caught.value.hint or "")
