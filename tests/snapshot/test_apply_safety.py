"""Malicious layer tars: every escape from the destination is rejected."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from minikit.oci import spec
from minikit.snapshot import LayerError, apply_layer_tar

from .tarlist import write_tar

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="applying layers sets owners, which needs root"
)

REG, SYM, LNK, DIR = tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the destination that no layer may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret").write_bytes(b"secret")
    return folder


def snapshot_of(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def apply_entries(tmp_path: Path, entries: list[tuple[Any, ...]]) -> Path:
    layer = write_tar(tmp_path / "evil.tar", entries)
    dest = tmp_path / "dest"
    apply_layer_tar(layer, spec.OCI_LAYER, dest)
    return dest


CASES: dict[str, tuple[list[tuple[Any, ...]], str]] = {
    "dot-dot": (
        [("../outside/secret", REG, b"pwned", {})],
        "'..' would leave the layer",
    ),
    "dot-dot-inside": (
        [("a/../../outside/secret", REG, b"pwned", {})],
        "'..' would leave the layer",
    ),
    "absolute": (
        [("/tmp/evil-absolute", REG, b"pwned", {})],
        "absolute names are not allowed",
    ),
    "through-symlink": (
        [
            ("link", SYM, b"", {"linkname": "OUTSIDE"}),
            ("link/secret", REG, b"pwned", {}),
        ],
        "parent 'link' is a symlink",
    ),
    "through-relative-symlink": (
        [
            ("up", SYM, b"", {"linkname": "../outside"}),
            ("up/secret", REG, b"pwned", {}),
        ],
        "parent 'up' is a symlink",
    ),
    "hardlink-dot-dot": (
        [("h", LNK, b"", {"linkname": "../outside/secret"})],
        "'..' would leave the layer",
    ),
    "hardlink-absolute": (
        [("h", LNK, b"", {"linkname": "OUTSIDE/secret"})],
        "absolute names are not allowed",
    ),
    "hardlink-through-symlink": (
        [
            ("link", SYM, b"", {"linkname": "OUTSIDE"}),
            ("h", LNK, b"", {"linkname": "link/secret"}),
        ],
        "parent 'link' is a symlink",
    ),
    "hardlink-missing": (
        [("h", LNK, b"", {"linkname": "nothing"})],
        "hardlink target 'nothing' is not in the layer",
    ),
    "hardlink-to-folder": (
        [("d", DIR, b"", {}), ("h", LNK, b"", {"linkname": "d"})],
        "hardlink to the folder 'd'",
    ),
    "whiteout-dot-dot": ([(".wh..", REG, b"", {})], "invalid whiteout entry"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_escape_is_rejected(tmp_path: Path, outside: Path, case: str) -> None:
    entries, message = CASES[case]
    entries = [_with_outside(entry, outside) for entry in entries]
    before = snapshot_of(outside)

    with pytest.raises(LayerError) as raised:
        apply_entries(tmp_path, entries)

    assert message in str(raised.value)
    assert raised.value.hint
    assert snapshot_of(outside) == before
    assert not Path("/tmp/evil-absolute").exists()


def _with_outside(entry: tuple[Any, ...], outside: Path) -> tuple[Any, ...]:
    name, kind, data, fields = entry
    if "linkname" in fields:
        fields = dict(
            fields, linkname=fields["linkname"].replace("OUTSIDE", str(outside))
        )
    return name, kind, data, fields


def test_file_replaces_symlink(tmp_path: Path, outside: Path) -> None:
    dest = apply_entries(
        tmp_path,
        [
            ("link", SYM, b"", {"linkname": str(outside / "secret")}),
            ("link", REG, b"replaced", {}),
        ],
    )

    assert not (dest / "link").is_symlink()
    assert (dest / "link").read_bytes() == b"replaced"
    assert (outside / "secret").read_bytes() == b"secret"


def test_folder_replaces_symlink(tmp_path: Path, outside: Path) -> None:
    dest = apply_entries(
        tmp_path,
        [
            ("link", SYM, b"", {"linkname": str(outside)}),
            ("link", DIR, b"", {}),
            ("link/new", REG, b"new", {}),
        ],
    )

    assert not (dest / "link").is_symlink()
    assert (dest / "link" / "new").read_bytes() == b"new"
    assert snapshot_of(outside) == {"secret": b"secret"}


def test_symlink_outside_is_kept(tmp_path: Path, outside: Path) -> None:
    # A symlink that points outside is only data. Writing through it is what is unsafe.
    dest = apply_entries(tmp_path, [("link", SYM, b"", {"linkname": "/etc/passwd"})])

    assert os.readlink(dest / "link") == "/etc/passwd"


def test_non_empty_dest_is_rejected(tmp_path: Path) -> None:
    layer = write_tar(tmp_path / "layer.tar", [("a", REG, b"a", {})])
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "existing").write_bytes(b"")

    with pytest.raises(LayerError, match="not empty"):
        apply_layer_tar(layer, spec.OCI_LAYER, dest)


def test_truncated_tar_is_rejected(tmp_path: Path) -> None:
    layer = write_tar(tmp_path / "layer.tar", [("a", REG, b"a" * 5000, {})])
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(layer.read_bytes()[:2048])

    with pytest.raises(LayerError, match="invalid layer tar"):
        apply_layer_tar(truncated, spec.OCI_LAYER, tmp_path / "dest")


def test_unknown_media_type_is_rejected(tmp_path: Path) -> None:
    layer = write_tar(tmp_path / "layer.tar", [("a", REG, b"a", {})])

    with pytest.raises(LayerError, match="unsupported layer media type"):
        apply_layer_tar(layer, "application/x-unknown", tmp_path / "dest")
