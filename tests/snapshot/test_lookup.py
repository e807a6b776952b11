"""Merged-path lookup across a chain of overlay-format layers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from minikit.snapshot import lookup


@pytest.fixture
def chain(tmp_path: Path) -> list[Path]:
    """Three layers, top-most first: whiteouts, an opaque folder, a type change."""
    top, middle, bottom = tmp_path / "top", tmp_path / "middle", tmp_path / "bottom"
    for folder in (
        bottom / "a" / "b",
        bottom / "only-bottom",
        bottom / "f" / "g",
        top / "a" / "b",
        middle / "a",
    ):
        folder.mkdir(parents=True)
    (bottom / "a" / "b" / "c").write_bytes(b"bottom")
    (bottom / "a" / "shared").write_bytes(b"bottom")
    (bottom / "deleted").write_bytes(b"bottom")
    (top / "a" / "b" / "d").write_bytes(b"top")
    (middle / "a" / "shared").write_bytes(b"middle")
    (middle / "f").write_bytes(b"file over folder")
    os.mknod(middle / "deleted", stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(top / "a" / "b", "user.overlay.opaque", b"y")
    return [top, middle, bottom]


def test_lookup_finds_top_most(chain: list[Path]) -> None:
    top, middle, bottom = chain

    assert lookup(chain, "a/b/d") == top / "a" / "b" / "d"
    assert lookup(chain, "a/shared") == middle / "a" / "shared"
    assert lookup(chain, "/only-bottom") == bottom / "only-bottom"
    assert lookup(chain, "a") == top / "a"
    assert lookup(chain, "/") == top


def test_lookup_honours_opaque(chain: list[Path]) -> None:
    assert lookup(chain, "a/b/c") is None


def test_lookup_honours_whiteout(chain: list[Path]) -> None:
    assert lookup(chain, "deleted") is None


def test_lookup_stops_at_files(chain: list[Path]) -> None:
    assert lookup(chain, "f/g") is None
    assert lookup(chain, "f") == chain[1] / "f"


def test_lookup_missing_path(chain: list[Path]) -> None:
    assert lookup(chain, "nothing/here") is None
    assert lookup([], "a") is None


def test_lookup_rejects_dot_dot(chain: list[Path]) -> None:
    with pytest.raises(ValueError, match="'..'"):
        lookup(chain, "a/../../etc")
