"""Atomic export files: a failed export never replaces or half-writes its file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minikit.exporter.output import open_output


def test_output_replaces_on_success(tmp_path: Path) -> None:
    dest = tmp_path / "result.tar"
    dest.write_bytes(b"old")
    with open_output(dest) as out:
        out.write(b"new")

    assert dest.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["result.tar"]
    assert dest.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_output_keeps_old_on_failure(tmp_path: Path) -> None:
    dest = tmp_path / "result.tar"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), open_output(dest) as out:
        out.write(b"half")
        raise RuntimeError("export failed")

    assert dest.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["result.tar"]


def test_output_creates_parent(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "folder" / "result.tar"
    with open_output(dest) as out:
        out.write(b"data")

    assert dest.read_bytes() == b"data"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
