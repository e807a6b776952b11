"""Which strings are Git references, and what their ref, subdir and options are.

The rules are BuildKit's (``dfgitutil.ParseGitRef``): ``https://`` and
``http://`` URLs whose path ends in ``.git``, ``git://`` and ``ssh://`` URLs,
and scp-like ``user@host:path``. A fragment ``#ref[:subdir]`` or a query
(``?ref=``, ``?tag=``, ``?branch=``, ``?checksum=``/``?commit=``,
``?subdir=``, ``?keep-git-dir=``, ``?submodules=``) selects what to check out.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from minikit.errors import GitError

_SCP = re.compile(r"^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$")
_HEX = re.compile(r"[0-9a-fA-F]+")
_BOOL_KEYS = ("keep-git-dir", "submodules", "fetch-by-commit")
_VALUE_KEYS = ("ref", "tag", "branch", "checksum", "commit", "subdir")


@dataclass(frozen=True)
class GitRef:
    """A parsed Git source."""

    remote: str  # the URL to fetch, without fragment and query
    scheme: str  # https, http, git, ssh
    host: str  # host[:port] for HTTP(S); the host for ssh
    path: str
    ref: str = ""
    subdir: str = ""
    checksum: str = ""
    keep_git_dir: bool | None = None
    submodules: bool = True

    @property
    def is_ssh(self) -> bool:
        """Tell whether the remote is reached over SSH."""
        return self.scheme == "ssh"

    @property
    def identifier(self) -> str:
        """Return BuildKit's source identifier: ``git://host/path#ref:subdir``."""
        text = f"git://{self.host}{'' if self.path.startswith('/') else '/'}{self.path}"
        if self.ref or self.subdir:
            text += f"#{self.ref}"
            if self.subdir:
                text += f":{self.subdir}"
        return text


def is_git_url(text: str) -> bool:
    """Tell whether ``text`` names a Git repository (for ADD and build contexts)."""
    lowered = text.lower()
    if lowered.startswith(("git://", "ssh://")):
        return True
    if _SCP.match(text) and "://" not in text:
        return True
    if lowered.startswith(("http://", "https://")):
        path = urlsplit(text).path
        return path.endswith(".git")
    return False


def parse_git_ref(text: str) -> GitRef:
    """Parse ``text``; raise GitError with BuildKit's messages for bad options."""
    scp = _SCP.match(text) if "://" not in text else None
    if scp is not None:
        user, host, path, query, fragment = scp.groups()
        remote = f"{user}@{host}:{path}"
        return _with_options(
            GitRef(remote, "ssh", host, path), query or "", fragment or "", text
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "git", "ssh"):
        raise GitError(
            f"invalid protocol in {text!r}",
            hint="use https://, ssh://, git:// or user@host:path",
        )
    host = parts.netloc.rpartition("@")[2]
    remote = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return _with_options(
        GitRef(remote, scheme, host, parts.path), parts.query, parts.fragment, text
    )


def _with_options(base: GitRef, query: str, fragment: str, text: str) -> GitRef:
    ref, _, subdir = fragment.partition(":")
    if subdir:
        subdir = posixpath.normpath(posixpath.join("/", subdir)).lstrip("/")
    values = _query(query, text)
    ref = _agree("ref", ref, values.get("ref", ""), "ref conflicts")
    tag = values.get("tag", "")
    branch = values.get("branch", "")
    if tag and branch:
        raise GitError(f"invalid Git reference {text!r}: branch conflicts with tag")
    if tag:
        ref = _agree("ref", ref, tag, "tag conflicts with ref") if ref else tag
        ref = ref if ref.startswith("refs/") else f"refs/tags/{ref}"
    if branch:
        ref = _agree("ref", ref, branch, "branch conflicts with ref") if ref else branch
        ref = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    if "subdir" in values:
        subdir = _agree("subdir", subdir, values["subdir"], "subdir conflicts")
    checksum = values.get("checksum") or values.get("commit") or ""
    if checksum and not _HEX.fullmatch(checksum):
        raise GitError(
            f"invalid checksum {checksum!r}: expected hex commit hash",
            hint="give a commit SHA or a prefix of one",
        )
    keep = _bool(values.get("keep-git-dir"))
    submodules = _bool(values.get("submodules"))
    return GitRef(
        base.remote,
        base.scheme,
        base.host,
        base.path,
        ref,
        subdir,
        checksum,
        keep,
        True if submodules is None else submodules,
    )


def _query(query: str, text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    if not query:
        return values
    for item in query.split("&"):
        key, sep, value = item.partition("=")
        if key in values:
            raise GitError(
                f"invalid Git reference {text!r}: query {key!r} is given more than once"
            )
        if key in _BOOL_KEYS:
            values[key] = value if sep else "true"
        elif key in _VALUE_KEYS:
            if not sep or not value:
                raise GitError(
                    f"invalid Git reference {text!r}: query {key!r} has no value"
                )
            values[key] = dict(parse_qsl(item))[key]
        else:
            raise GitError(f"invalid Git reference {text!r}: unexpected query {key!r}")
    return values


def _agree(name: str, first: str, second: str, message: str) -> str:
    if first and second and first != second:
        raise GitError(f"invalid Git reference: {message} ({first!r} and {second!r})")
    return first or second


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise GitError(
        f"invalid boolean {value!r} in Git reference", hint="use true or false"
    )
