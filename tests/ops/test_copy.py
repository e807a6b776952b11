"""COPY semantics on real folders: wildcards, links, owners, modes, filters."""

import os
import stat
import tarfile
from pathlib import Path

import pytest

from minikit.errors import SolveError
from minikit.ops.copy import CopyOptions, Owner, apply_symbolic_mode, copy, path_match


class _Ignore:
    """A tiny stand-in filter: excludes paths under the given prefixes, re-includes .py."""

    def __init__(self, excluded: tuple[str, ...]) -> None:
        self.excluded = excluded

    def matches(self, relpath: str) -> bool:
        if relpath.endswith(".py"):
            return False
        return any(relpath == p or relpath.startswith(p + "/") for p in self.excluded)

    def may_include_below(self, reldir: str) -> bool:
        return True


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "a.txt").write_text("a")
    (root / "dir" / "sub" / "b.txt").write_text("b")
    (root / "top.txt").write_text("top")
    os.symlink("top.txt", root / "link.txt")
    os.symlink("../top.txt", root / "dir" / "inner-link")
    os.chmod(root / "top.txt", 0o640)
    return root


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    root = tmp_path / "dst"
    root.mkdir()
    return root


def test_copy_file_to_new_name(src, dst):
    copy(src, "top.txt", dst, "/renamed", CopyOptions())
    assert (dst / "renamed").read_text() == "top"


def test_copy_file_into_slash_dest(src, dst):
    copy(src, "top.txt", dst, "/opt/app/", CopyOptions())
    assert (dst / "opt" / "app" / "top.txt").read_text() == "top"


def test_copy_keeps_mode(src, dst):
    copy(src, "top.txt", dst, "/x", CopyOptions())
    assert stat.S_IMODE(os.stat(dst / "x").st_mode) == 0o640


def test_copy_dir_copies_contents(src, dst):
    copy(src, "dir", dst, "/out", CopyOptions())
    assert (dst / "out" / "a.txt").read_text() == "a"
    assert (dst / "out" / "sub" / "b.txt").read_text() == "b"
    assert not (dst / "out" / "dir").exists()


def test_named_symlink_is_followed(src, dst):
    copy(src, "link.txt", dst, "/l", CopyOptions())
    assert not (dst / "l").is_symlink()
    assert (dst / "l").read_text() == "top"


def test_inner_symlink_stays_link(src, dst):
    copy(src, "dir", dst, "/out", CopyOptions())
    assert os.readlink(dst / "out" / "inner-link") == "../top.txt"


def test_wildcard_matches_several(src, dst):
    copy(src, "*.txt", dst, "/w/", CopyOptions())
    assert sorted(os.listdir(dst / "w")) == ["link.txt", "top.txt"]


def test_missing_source_fails(src, dst):
    with pytest.raises(SolveError, match='"/nope": not found'):
        copy(src, "nope", dst, "/x", CopyOptions())


def test_empty_wildcard_allowed(src, dst):
    copy(src, "*.none", dst, "/w/", CopyOptions(allow_empty_wildcard=True))
    assert not (dst / "w" / "anything").exists()


def test_reset_owner_for_context(src, dst):
    os.chown(src / "top.txt", 1234, 1234)
    copy(src, "top.txt", dst, "/x", CopyOptions(reset_owner=True))
    info = os.lstat(dst / "x")
    assert (info.st_uid, info.st_gid) == (0, 0)


def test_owner_preserved_from_stage(src, dst):
    os.chown(src / "top.txt", 1234, 4321)
    copy(src, "top.txt", dst, "/x", CopyOptions())
    info = os.lstat(dst / "x")
    assert (info.st_uid, info.st_gid) == (1234, 4321)


def test_chown_applies_to_created_parents(src, dst):
    copy(src, "top.txt", dst, "/p/q/", CopyOptions(owner=Owner(1000, 1000)))
    assert os.lstat(dst / "p" / "q").st_uid == 1000
    assert os.lstat(dst / "p" / "q" / "top.txt").st_gid == 1000


def test_chmod_octal(src, dst):
    copy(src, "dir", dst, "/out", CopyOptions(mode=0o700))
    assert stat.S_IMODE(os.stat(dst / "out" / "a.txt").st_mode) == 0o700


def test_symbolic_mode():
    assert apply_symbolic_mode("u+x,go-w", 0o664, False) == 0o744
    assert apply_symbolic_mode("a=rX", 0o600, True) == 0o555


def test_excludes_skip_subtree(src, dst):
    copy(src, "dir", dst, "/out", CopyOptions(exclude_patterns=("sub",)))
    assert (dst / "out" / "a.txt").exists()
    assert not (dst / "out" / "sub").exists()


def test_filter_reincludes_nested(tmp_path, dst):
    root = tmp_path / "ctx"
    (root / "pkg" / "deep").mkdir(parents=True)
    (root / "pkg" / "deep" / "inner.py").write_text("x")
    (root / "pkg" / "data.txt").write_text("x")
    (root / "empty").mkdir()
    copy(root, "/", dst, "/app", CopyOptions(source_filter=_Ignore(("pkg", "empty"))))
    assert (dst / "app" / "pkg" / "deep" / "inner.py").exists()
    assert not (dst / "app" / "pkg" / "data.txt").exists()
    assert not (dst / "app" / "empty").exists()


def test_dest_symlink_cannot_escape(src, dst, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), dst / "evil")
    copy(src, "top.txt", dst, "/evil/", CopyOptions())
    assert not (outside / "top.txt").exists()
    assert (dst / str(outside).lstrip("/") / "top.txt").exists()


def test_add_unpacks_archive(tmp_path, dst):
    root = tmp_path / "ctx"
    root.mkdir()
    payload = tmp_path / "f.txt"
    payload.write_text("inside")
    with tarfile.open(root / "a.tar.gz", "w:gz") as archive:
        archive.add(payload, arcname="data/f.txt")
    copy(root, "a.tar.gz", dst, "/x/", CopyOptions(attempt_unpack=True))
    assert (dst / "x" / "data" / "f.txt").read_text() == "inside"


def test_parents_keeps_path(src, dst):
    copy(src, "dir/sub/b.txt", dst, "/p/", CopyOptions(parents=True))
    assert (dst / "p" / "dir" / "sub" / "b.txt").read_text() == "b"


def test_path_match_double_star():
    assert path_match("**/*.log", "a/b/c.log")
    assert path_match("sub", "sub/x/y")
    assert not path_match("sub", "other/sub2")
