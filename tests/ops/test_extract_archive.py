"""ADD of a local archive: bad entries fail as a SolveError naming the entry."""

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from minikit.errors import SolveError
from minikit.ops.copy import CopyOptions, extract_archive


def _member(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.uid, info.gid = os.getuid(), os.getgid()
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _archive(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w") as archive:
        for member in members:
            data = b"hi\n" if member.isreg() else b""
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def _unpack_error(archive: Path, target: Path) -> SolveError:
    target.mkdir(exist_ok=True)
    with pytest.raises(SolveError) as caught:
        extract_archive(archive, target, CopyOptions(attempt_unpack=True))
    return caught.value


def test_dangling_hard_link_named(tmp_path):
    archive = _archive(
        tmp_path / "bad.tar",
        _member("a.txt"),
        _member("link", tarfile.LNKTYPE, linkname="missing"),
    )
    error = _unpack_error(archive, tmp_path / "out")
    assert "hard link 'link' points to 'missing'" in error.message
    assert "bad.tar" in error.message


def test_error_hides_host_paths(tmp_path):
    archive = _archive(
        tmp_path / "bad.tar", _member("link", tarfile.LNKTYPE, linkname="missing")
    )
    error = _unpack_error(archive, tmp_path / "out")
    assert str(tmp_path) not in f"{error.message} {error.hint}"


def test_truncated_gzip_rejected(tmp_path):
    plain = _archive(tmp_path / "a.tar", _member("a.txt"), _member("b.txt"))
    packed = gzip.compress(plain.read_bytes())
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(packed[: len(packed) // 2])
    error = _unpack_error(archive, tmp_path / "out")
    assert "damaged or truncated" in error.message


def test_hard_link_after_target_works(tmp_path):
    archive = _archive(
        tmp_path / "ok.tar",
        _member("a.txt"),
        _member("link", tarfile.LNKTYPE, linkname="a.txt"),
    )
    target = tmp_path / "out"
    target.mkdir()
    extract_archive(archive, target, CopyOptions(attempt_unpack=True))
    assert os.stat(target / "link").st_ino == os.stat(target / "a.txt").st_ino
