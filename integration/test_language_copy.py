"""COPY and ADD flags on local sources through ``minikit build``.

Covers destinations relative to WORKDIR, wildcards, several sources into a
folder, ``--chown`` by name and by id, octal and symbolic ``--chmod``,
``--link``, ``--parents`` with and without a ``/./`` pivot, ``--exclude``,
and ADD's unpacking of local archives (on by default, off with
``--unpack=false``). One build; each test checks one path of the result.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

DOCKERFILE = """\
FROM busybox:1.36
WORKDIR /w
COPY a.txt rel/
COPY *.txt /glob/
COPY a.txt b.txt /multi/
COPY --chown=user:staff a.txt /owned-name.txt
COPY --chown=1234:5678 a.txt /owned-id.txt
COPY --chmod=0600 a.txt /mode-octal.txt
COPY --chmod=u+x,g-r a.txt /mode-symbolic.txt
COPY --link a.txt /linked.txt
COPY --parents src/x/one.txt src/y/two.txt /parents/
COPY --parents src/./x/one.txt /pivot/
COPY --exclude=*.log logs /no-logs/
ADD archive.tar /unpacked/
ADD --unpack=false archive.tar /packed/
"""


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"inside\n"
        info = tarfile.TarInfo("inner.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def out(run_minikit, base_image, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("copy")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "a.txt").write_text("a\n")
    (folder / "b.txt").write_text("b\n")
    for name in ("src/x/one.txt", "src/y/two.txt", "logs/keep.txt", "logs/drop.log"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name + "\n")
    (folder / "archive.tar").write_bytes(_archive())
    run_minikit(["build", "-o", "type=local,dest=out", "."], cwd=folder)
    return folder / "out"


@pytest.mark.parametrize(
    "path",
    [
        "w/rel/a.txt",
        "glob/a.txt",
        "glob/b.txt",
        "multi/a.txt",
        "multi/b.txt",
        "linked.txt",
        "parents/src/x/one.txt",
        "parents/src/y/two.txt",
        "pivot/x/one.txt",
        "no-logs/keep.txt",
        "unpacked/inner.txt",
        "packed/archive.tar",
    ],
)
def test_copy_creates(out, path):
    assert (out / path).is_file()


@pytest.mark.parametrize(
    "path", ["no-logs/drop.log", "pivot/src", "unpacked/archive.tar"]
)
def test_copy_leaves_out(out, path):
    assert not (out / path).exists()


@pytest.mark.parametrize(
    ("path", "owner"), [("owned-name.txt", (1000, 50)), ("owned-id.txt", (1234, 5678))]
)
def test_copy_chown(out, path, owner):
    stat = (out / path).stat()
    assert (stat.st_uid, stat.st_gid) == owner


@pytest.mark.parametrize(
    ("path", "mode"), [("mode-octal.txt", 0o600), ("mode-symbolic.txt", 0o704)]
)
def test_copy_chmod(out, path, mode):
    assert (out / path).stat().st_mode & 0o7777 == mode
