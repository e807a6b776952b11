"""Layer tars: unpacking into overlay format and packing back, reproducibly."""

from __future__ import annotations

import gzip
import io
import os
import socket
import stat
import struct
import tarfile
from pathlib import Path

import pytest

from minikit.oci import spec
from minikit.snapshot import (
    LayerError,
    apply_layer_tar,
    is_opaque,
    is_whiteout,
    write_layer_tar,
)
from minikit.snapshot.layer import LayerInfo

from .tarlist import Entry, by_name, read_entries, write_tar

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="layers with foreign owners and device nodes need root"
)

# A valid v2 file capability (cap_net_raw, effective): a 4-byte header and
# permitted/inheritable masks for the low and high 32 capabilities.
CAPABILITY = b"\x01\x00\x00\x02" + struct.pack("<IIII", 1 << 13, 0, 0, 0)
LONG_FOLDER = "f" * 120
LONG_NAME = "n" * 150
MTIME = 1_600_000_000

DIR, REG, SYM, LNK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def xattr_records(values: dict[str, bytes]) -> dict[str, str]:
    return {
        f"SCHILY.xattr.{name}": value.decode("utf-8", "surrogateescape")
        for name, value in values.items()
    }


ROUND_TRIP_ENTRIES = [
    ("etc", DIR, b"", {}),
    ("etc/.wh..wh..opq", REG, b"", {}),
    ("etc/passwd", REG, b"root:x:0:0\n", {"uid": 1000, "gid": 1000, "mode": 0o640}),
    ("etc/passwd-link", LNK, b"", {"linkname": "etc/passwd", "uid": 1000, "gid": 1000}),
    ("etc/sym", SYM, b"", {"linkname": "../usr/bin", "mode": 0o777}),
    (".wh.removed", REG, b"", {"mode": 0o600}),
    ("home", DIR, b"", {}),
    ("home/user", DIR, b"", {"uid": 1000, "gid": 1000, "mode": 0o700}),
    ("home/user/notes", REG, b"notes", {"uid": 1000, "gid": 1000}),
    ("usr", DIR, b"", {}),
    ("usr/bin", DIR, b"", {}),
    ("usr/bin/su", REG, b"su binary", {"mode": 0o4755}),
    (
        "usr/bin/ping",
        REG,
        b"ping binary",
        {"pax_headers": xattr_records({"security.capability": CAPABILITY})},
    ),
    (
        "usr/tagged",
        REG,
        b"tagged",
        {"pax_headers": xattr_records({"user.comment": b"\xff\x00binary"})},
    ),
    (f"usr/{LONG_FOLDER}", DIR, b"", {}),
    (f"usr/{LONG_FOLDER}/{LONG_NAME}", REG, b"long", {}),
    ("dev", DIR, b"", {}),
    ("dev/null", tarfile.CHRTYPE, b"", {"devmajor": 1, "devminor": 3, "mode": 0o666}),
    ("dev/loop0", tarfile.BLKTYPE, b"", {"devmajor": 7, "devminor": 0, "mode": 0o660}),
    ("dev/pipe", tarfile.FIFOTYPE, b"", {"mode": 0o600}),
]


@pytest.fixture
def round_trip_tar(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "input.tar", ROUND_TRIP_ENTRIES)


def pack(diff_dir: Path, **options: object) -> tuple[LayerInfo, bytes]:
    out = io.BytesIO()
    info = write_layer_tar(diff_dir, out, **options)  # type: ignore[arg-type]
    return info, out.getvalue()


def test_apply_converts_markers(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)

    assert is_opaque(diff / "etc")
    assert not is_opaque(diff / "usr")
    assert is_whiteout(os.lstat(diff / "removed"))
    assert not (diff / "etc" / ".wh..wh..opq").exists()
    assert not (diff / ".wh.removed").exists()


def test_apply_sets_metadata(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)

    passwd = os.lstat(diff / "etc" / "passwd")
    assert (passwd.st_uid, passwd.st_gid) == (1000, 1000)
    assert stat.S_IMODE(passwd.st_mode) == 0o640
    assert passwd.st_mtime == MTIME
    assert os.lstat(diff / "etc" / "passwd-link").st_ino == passwd.st_ino
    assert os.readlink(diff / "etc" / "sym") == "../usr/bin"
    assert stat.S_IMODE(os.lstat(diff / "usr" / "bin" / "su").st_mode) == 0o4755
    assert (
        os.getxattr(diff / "usr" / "bin" / "ping", "security.capability") == CAPABILITY
    )
    assert os.getxattr(diff / "usr" / "tagged", "user.comment") == b"\xff\x00binary"
    assert os.lstat(diff / "home" / "user").st_mtime == MTIME
    assert os.lstat(diff / "dev" / "null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(diff / "dev" / "pipe").st_mode)


def test_round_trip_keeps_entries(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)
    _, blob = pack(diff, compression="none")

    expected = by_name(read_entries(round_trip_tar.read_bytes()))
    actual = by_name(read_entries(blob))
    assert sorted(actual) == sorted(expected)
    for name, entry in expected.items():
        if entry.kind == "hardlink":
            continue
        if name.endswith(".wh..wh..opq"):
            # Only the marker's existence is stored (as an xattr on its folder).
            assert actual[name].kind == "file"
            continue
        assert _comparable(actual[name]) == _comparable(entry), name


def test_round_trip_keeps_hardlinks(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)
    _, blob = pack(diff, compression="none")

    entries = by_name(read_entries(blob))
    pair = {entries["etc/passwd"].kind, entries["etc/passwd-link"].kind}
    assert pair == {"file", "hardlink"}
    link = next(e for e in entries.values() if e.kind == "hardlink")
    assert link.linkname in ("etc/passwd", "etc/passwd-link")
    assert link.linkname != link.name


def _comparable(entry: Entry) -> tuple[object, ...]:
    return (
        entry.kind,
        entry.mode,
        entry.uid,
        entry.gid,
        entry.mtime,
        entry.linkname,
        entry.sha256,
        entry.device,
        entry.xattrs,
    )


def test_write_uses_numeric_owners(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)
    _, blob = pack(diff, compression="none")

    for entry in read_entries(blob):
        assert entry.uname == "", entry.name
        assert entry.gname == "", entry.name


def test_write_orders_parents_first(round_trip_tar: Path, tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, diff)
    _, blob = pack(diff, compression="none")

    names = [entry.name.rstrip("/") for entry in read_entries(blob)]
    for index, name in enumerate(names):
        parent = name.rpartition("/")[0]
        if parent:
            assert names.index(parent) < index, name
    assert names.index("etc/.wh..wh..opq") == names.index("etc") + 1


def test_write_is_reproducible(round_trip_tar: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, first)
    apply_layer_tar(round_trip_tar, spec.OCI_LAYER, second)

    info_a, blob_a = pack(first)
    info_b, blob_b = pack(first)
    info_c, _ = pack(second)
    assert info_a == info_b
    assert blob_a == blob_b
    assert info_c.digest == info_a.digest


@pytest.mark.parametrize(
    ("compression", "media_type"),
    [
        ("gzip", spec.OCI_LAYER_GZIP),
        ("none", spec.OCI_LAYER),
        ("zstd", spec.OCI_LAYER_ZSTD),
    ],
)
def test_write_reports_digests(
    tmp_path: Path, compression: str, media_type: str
) -> None:
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "file").write_bytes(b"content" * 1000)

    info, blob = pack(diff, compression=compression)
    _, plain = pack(diff, compression="none")
    assert info.media_type == media_type
    assert info.size == len(blob)
    assert info.digest == "sha256:" + _sha256(blob)
    assert info.diff_id == "sha256:" + _sha256(plain)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_gzip_header_is_fixed(tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "file").write_bytes(b"x")

    _, blob = pack(diff, compression="gzip")
    flags, mtime = blob[3], blob[4:8]
    assert flags == 0
    assert mtime == b"\0\0\0\0"
    assert gzip.decompress(blob)[:4] == b"file"


def test_epoch_clamps_mtimes(tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    (diff / "folder").mkdir(parents=True)
    (diff / "new").write_bytes(b"new")
    (diff / "old").write_bytes(b"old")
    os.mknod(diff / "deleted", stat.S_IFCHR, os.makedev(0, 0))
    os.utime(diff / "new", (2_000_000_000, 2_000_000_000))
    os.utime(diff / "old", (1_000, 1_000))
    os.utime(diff / "folder", (2_000_000_000, 2_000_000_000))

    _, blob = pack(diff, compression="none", source_date_epoch=1_500_000_000)
    entries = by_name(read_entries(blob))
    assert entries["new"].mtime == 1_500_000_000
    assert entries["old"].mtime == 1_000
    assert entries["folder"].mtime == 1_500_000_000
    assert entries[".wh.deleted"].mtime == 1_500_000_000


def test_write_omits_copied_up_folders(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "old").write_bytes(b"old")
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "new").write_bytes(b"new")
    for folder in (lower / "etc", upper / "etc"):
        os.chmod(folder, 0o755)
        os.utime(folder, (MTIME, MTIME))

    _, with_lowers = pack(upper, compression="none", lowers=[lower])
    _, without = pack(upper, compression="none")
    assert [e.name for e in read_entries(with_lowers)] == ["etc/new"]
    assert [e.name for e in read_entries(without)] == ["etc", "etc/new"]


def test_write_keeps_changed_folders(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)
    (upper / "opaque").mkdir()
    (lower / "opaque").mkdir()
    os.setxattr(upper / "opaque", "user.overlay.opaque", b"y")
    os.utime(lower / "etc", (MTIME, MTIME))
    os.utime(upper / "etc", (MTIME + 1, MTIME + 1))
    os.utime(lower / "opaque", (MTIME, MTIME))
    os.utime(upper / "opaque", (MTIME, MTIME))

    _, blob = pack(upper, compression="none", lowers=[lower])
    names = [e.name for e in read_entries(blob)]
    assert names == ["etc", "opaque", "opaque/.wh..wh..opq"]


def test_write_skips_overlay_xattrs(tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "file").write_bytes(b"x")
    os.setxattr(diff / "file", "user.overlay.origin", b"\x00handle")
    os.setxattr(diff / "file", "user.kept", b"yes")

    _, blob = pack(diff, compression="none")
    assert read_entries(blob)[0].xattrs == {"user.kept": b"yes"}


def test_write_skips_sockets(tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "file").write_bytes(b"x")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(diff / "sock"))
        _, blob = pack(diff, compression="none")
    finally:
        server.close()
    assert [e.name for e in read_entries(blob)] == ["file"]


def test_apply_replaces_earlier_entries(tmp_path: Path) -> None:
    layer = write_tar(
        tmp_path / "layer.tar",
        [
            ("x", REG, b"file first", {}),
            ("x", DIR, b"", {}),
            ("x/inner", REG, b"inner", {}),
            ("d", DIR, b"", {}),
            ("d/child", REG, b"child", {}),
            ("d", REG, b"now a file", {}),
            ("f", REG, b"one", {}),
            ("f", REG, b"two", {}),
        ],
    )
    diff = tmp_path / "diff"
    apply_layer_tar(layer, spec.OCI_LAYER, diff)

    assert (diff / "x" / "inner").read_bytes() == b"inner"
    assert (diff / "d").read_bytes() == b"now a file"
    assert (diff / "f").read_bytes() == b"two"


def test_apply_creates_missing_parents(tmp_path: Path) -> None:
    layer = write_tar(tmp_path / "layer.tar", [("a/b/c", REG, b"c", {"mtime": 1234})])
    diff = tmp_path / "diff"
    apply_layer_tar(layer, spec.OCI_LAYER, diff)

    assert stat.S_IMODE(os.lstat(diff / "a" / "b").st_mode) == 0o755
    assert os.lstat(diff / "a").st_mtime == 1234


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_apply_reads_compressed(tmp_path: Path, compression: str) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "hello").write_bytes(b"hello")
    blob = tmp_path / "blob"
    with open(blob, "wb") as out:
        info = write_layer_tar(source, out, compression=compression)  # type: ignore[arg-type]

    diff = tmp_path / "diff"
    apply_layer_tar(blob, info.media_type, diff)
    assert (diff / "hello").read_bytes() == b"hello"


def test_apply_trusts_magic_bytes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "hello").write_bytes(b"hello")
    blob = tmp_path / "blob"
    with open(blob, "wb") as out:
        write_layer_tar(source, out, compression="gzip")

    diff = tmp_path / "diff"
    apply_layer_tar(blob, spec.DOCKER_LAYER, diff)
    assert (diff / "hello").read_bytes() == b"hello"


def test_write_failure_is_reported(tmp_path: Path) -> None:
    diff = tmp_path / "diff"
    diff.mkdir()
    (diff / "file").write_bytes(b"x" * 100_000)
    read_end, write_end = os.pipe()
    os.close(read_end)

    with (
        open(write_end, "wb", buffering=0) as out,
        pytest.raises(LayerError, match="failed to write the layer blob"),
    ):
        write_layer_tar(diff, out, compression="none")
