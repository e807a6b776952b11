"""Git reference parsing: which strings are Git, and their ref, subdir and options."""

import pytest

from minikit.errors import GitError
from minikit.source.gitref import is_git_url, parse_git_ref


@pytest.mark.parametrize(
    "text",
    ["https://example.com/org/repo.git", "http://127.0.0.1:18420/public/mono.git#main",
     "git://host/repo", "ssh://git@host/repo", "git@github.com:org/repo.git", "git@host:repo"],
)
def test_git_urls(text):
    assert is_git_url(text)


@pytest.mark.parametrize(
    "text", ["https://github.com/moby/buildkit", "https://x/foo.git/", "./local.git", "foo://x", "file.txt"]
)
def test_not_git_urls(text):
    assert not is_git_url(text)


def test_fragment_ref_and_subdir():
    ref = parse_git_ref("https://h/r.git#v1:sub/dir")
    assert (ref.ref, ref.subdir) == ("v1", "sub/dir")
    assert ref.remote == "https://h/r.git"


def test_query_branch_and_keep():
    ref = parse_git_ref("http://127.0.0.1:1/r.git?branch=main&keep-git-dir=true")
    assert ref.ref == "refs/heads/main"
    assert ref.keep_git_dir is True
    assert ref.host == "127.0.0.1:1"


def test_query_tag():
    assert parse_git_ref("https://h/r.git?tag=v1").ref == "refs/tags/v1"


def test_submodules_false():
    assert parse_git_ref("https://h/r.git?submodules=false").submodules is False


def test_ref_conflict():
    with pytest.raises(GitError, match="ref conflicts"):
        parse_git_ref("https://h/r.git?ref=a#b")


def test_branch_tag_conflict():
    with pytest.raises(GitError, match="branch conflicts with tag"):
        parse_git_ref("https://h/r.git?branch=a&tag=b")


def test_unknown_query():
    with pytest.raises(GitError, match="unexpected query 'depth'"):
        parse_git_ref("https://h/r.git?depth=1")


def test_bad_checksum():
    with pytest.raises(GitError, match="expected hex commit hash"):
        parse_git_ref("https://h/r.git?checksum=xyz")


def test_scp_form():
    ref = parse_git_ref("git@127.0.0.1:srv/repo.git#main")
    assert ref.is_ssh
    assert ref.remote == "git@127.0.0.1:srv/repo.git"
    assert ref.ref == "main"


def test_identifier():
    assert parse_git_ref("https://h/o/r.git#main:d").identifier == "git://h/o/r.git#main:d"
