"""``.dockerignore`` through ``minikit build``, ported from BuildKit's dockerignore tests.

Patterns apply in order and the last match wins; ``!`` re-includes, ``**``
crosses folders, and ``#`` starts a comment only in the first column. A
``<Dockerfile>.dockerignore`` next to the Dockerfile replaces the context's
``.dockerignore``. Each build copies the whole context into a scratch image
and exports it to a folder, so the test lists exactly what got through.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FILES = (
    "foo", "bar", "baz", "bay", "sub/foo", "sub/bar", "logs/a.log",
    "logs/deep/b.log", "logs/important.log", "#hidden", "keep.txt",
)  # fmt: skip
IGNORE = """\
# a comment line
ba*
Dockerfile
!bay
.dockerignore
**/*.log
!logs/important.log
 #hidden
"""


def _context(root: Path, ignore: str | None) -> Path:
    folder = root / "ctx"
    for name in FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n")
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    if ignore is not None:
        (folder / ".dockerignore").write_text(ignore)
    return folder


def _listing(out: Path) -> set[str]:
    return {str(path.relative_to(out)) for path in out.rglob("*") if path.is_file()}


def _build(run_minikit, folder: Path, out: Path, *flags: str) -> set[str]:
    run_minikit(["build", *flags, "-o", f"type=local,dest={out}", "."], cwd=folder)
    return _listing(out)


@pytest.fixture(scope="module")
def ignored(run_minikit, base_image, tmp_path_factory) -> set[str]:
    root = tmp_path_factory.mktemp("dockerignore")
    folder = _context(root, IGNORE)
    return _build(run_minikit, folder, root / "out")


@pytest.mark.parametrize(
    "name", ["foo", "bay", "sub/foo", "sub/bar", "logs/important.log", "keep.txt"]
)
def test_dockerignore_keeps(ignored, name):
    assert name in ignored


@pytest.mark.parametrize(
    "name",
    [
        "bar",
        "baz",
        "Dockerfile",
        ".dockerignore",
        "logs/a.log",
        "logs/deep/b.log",
        "#hidden",
    ],
)
def test_dockerignore_drops(ignored, name):
    assert name not in ignored


def test_dockerignore_override(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "foo\n")
    (folder / "Dockerfile.dockerignore").write_text("bar\n")
    listing = _build(run_minikit, folder, tmp_path / "out")
    assert "foo" in listing
    assert "bar" not in listing


def test_dockerignore_override_named(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "foo\n")
    (folder / "Dockerfile2").write_text("FROM scratch\nCOPY . /\n")
    (folder / "Dockerfile2.dockerignore").write_text("baz\n")
    listing = _build(run_minikit, folder, tmp_path / "out", "-f", "Dockerfile2")
    assert "foo" in listing
    assert "baz" not in listing
    assert "bar" in listing


@pytest.mark.parametrize(
    ("ignore", "message"),
    [("[\n", "syntax error in pattern"), ("!\n", 'illegal exclusion pattern: "!"')],
)
def test_dockerignore_invalid(run_minikit, base_image, tmp_path, ignore, message):
    folder = _context(tmp_path, ignore)
    result = run_minikit(
        ["build", "-o", f"type=local,dest={tmp_path / 'out'}", "."],
        cwd=folder,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "hint:" in result.stderr
