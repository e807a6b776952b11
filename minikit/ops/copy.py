"""COPY and ADD semantics: wildcards, symlinks, ownership, modes, unpacking.

This follows BuildKit's file op copy (``fsutil/copy`` with the options the
Dockerfile frontend sets): the named source is followed when it is a
symbolic link, a directory source copies its contents, links inside a copied
directory stay links, missing destination parents are created, and files
from the build context become root-owned unless ``--chown`` says otherwise.
Every path on both sides is resolved inside its root.

A copy first enumerates the source entries (``enumerate_source``), filtered
by ``.dockerignore`` and ``--exclude``; the same enumeration feeds the
content checksum that keys the cache, so what is hashed is what is copied.
"""

from __future__ import annotations

import errno
import lzma
import os
import re
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from minikit.errors import SolveError
from minikit.util.fs import PathEscapeError, clean_path, has_glob, resolve_in_root

# Extended attributes worth keeping across a copy; overlay's own are skipped.
_KEPT_XATTR_PREFIXES = ("user.", "security.capability")
_OVERLAY_XATTR_PREFIXES = ("user.overlay.", "trusted.overlay.")


class PathFilter(Protocol):
    """Which paths of a source tree take part (``.dockerignore`` for the context)."""

    def matches(self, relpath: str) -> bool:
        """Tell whether ``relpath`` (no leading slash) is excluded."""

    def may_include_below(self, reldir: str) -> bool:
        """Tell whether an excluded folder may still hold re-included paths."""


@dataclass(frozen=True)
class Owner:
    """Numeric owner for created files; a None part keeps the source's id."""

    uid: int | None
    gid: int | None


@dataclass
class CopyOptions:
    """The options of one copy, with owners already resolved to numbers."""

    owner: Owner | None = None
    mode: int | None = None
    mode_str: str = ""
    follow_symlink: bool = True
    dir_copy_contents: bool = True
    attempt_unpack: bool = False
    create_dest_path: bool = True
    allow_wildcard: bool = True
    allow_empty_wildcard: bool = False
    timestamp: int | None = None
    exclude_patterns: tuple[str, ...] = ()
    parents: bool = False
    source_filter: PathFilter | None = None
    # Files from the build context belong to root in the image.
    reset_owner: bool = False


@dataclass(frozen=True)
class SourceEntry:
    """One entry to copy: its path relative to the copied source, and where it is."""

    rel: str
    host: Path
    info: os.stat_result


def copy(
    src_root: Path, src: str, dst_root: Path, dest: str, options: CopyOptions
) -> None:
    """Copy ``src`` (inside ``src_root``) to ``dest`` (inside ``dst_root``)."""
    matches = expand_source(src_root, src, options)
    dest_is_dir = dest.endswith("/") or dest.endswith("/.") or len(matches) > 1
    for match in matches:
        entries = enumerate_source(src_root, match, options)
        source = _with_pivot(src, match) if options.parents else match
        _copy_source(src_root, source, entries, dst_root, dest, dest_is_dir, options)


def _with_pivot(src: str, match: str) -> str:
    """Put the ``/./`` pivot of ``src`` back into ``match``, which lost it to cleaning."""
    text = "/" + src.lstrip("/")
    if "/./" not in text:
        return match
    pivot = clean_path(text.split("/./", 1)[0])
    if pivot == "/" or not match.startswith(pivot + "/"):
        return match
    return pivot + "/." + match[len(pivot) :]


def expand_source(src_root: Path, src: str, options: CopyOptions) -> list[str]:
    """Return the source paths that ``src`` names: itself, or its wildcard matches."""
    cleaned = clean_path(src)
    if options.allow_wildcard and has_glob(cleaned):
        matches = sorted(_glob(src_root, cleaned, options.source_filter))
        if not matches and not options.allow_empty_wildcard:
            raise SolveError(
                f'failed to compute cache key: "{cleaned}": no source files match the pattern',
                hint="check the pattern, and that .dockerignore does not exclude the files",
            )
        return matches
    if not _source_exists(src_root, cleaned, options):
        raise SolveError(
            f'failed to compute cache key: "{cleaned}": not found',
            hint="check that the file exists in the build context (or stage) and that "
            ".dockerignore does not exclude it",
        )
    return [cleaned]


def _source_exists(root: Path, path: str, options: CopyOptions) -> bool:
    try:
        host = resolve_in_root(root, path, follow_final=options.follow_symlink)
    except PathEscapeError:
        return False
    if not os.path.lexists(host):
        return False
    rel = _rel_in_root(root, host)
    flt = options.source_filter
    if flt is None or not rel or not flt.matches(rel):
        return True
    return (
        host.is_dir()
        and flt.may_include_below(rel)
        and bool(_walk(host, rel, "", flt, ()))
    )


def enumerate_source(
    src_root: Path, src: str, options: CopyOptions
) -> list[SourceEntry]:
    """List what copying ``src`` takes: the source itself first, then its tree, sorted."""
    host = resolve_in_root(src_root, src, follow_final=options.follow_symlink)
    info = os.lstat(host)
    entries = [SourceEntry("", host, info)]
    if stat.S_ISDIR(info.st_mode):
        rel_root = _rel_in_root(src_root, host)
        excludes = tuple(clean_path(p).lstrip("/") for p in options.exclude_patterns)
        entries.extend(_walk(host, rel_root, "", options.source_filter, excludes))
    return entries


def _rel_in_root(root: Path, host: Path) -> str:
    rel = os.path.relpath(host, root)
    return "" if rel == "." else rel


def _walk(
    host_dir: Path,
    root_rel: str,
    rel: str,
    flt: PathFilter | None,
    excludes: tuple[str, ...],
) -> list[SourceEntry]:
    """Walk ``host_dir``; ``root_rel`` is its path in the source root, for the filter."""
    out: list[SourceEntry] = []
    try:
        names = sorted(os.listdir(host_dir))
    except OSError as exc:
        raise SolveError(f"failed to read {root_rel or '/'}: {exc.strerror}") from exc
    for name in names:
        child = host_dir / name
        child_rel = f"{rel}/{name}" if rel else name
        child_root_rel = f"{root_rel}/{name}" if root_rel else name
        if excludes and any(path_match(pattern, child_rel) for pattern in excludes):
            continue
        info = os.lstat(child)
        is_dir = stat.S_ISDIR(info.st_mode)
        if flt is not None and flt.matches(child_root_rel):
            if is_dir and flt.may_include_below(child_root_rel):
                below = _walk(child, child_root_rel, child_rel, flt, excludes)
                if below:
                    out.append(SourceEntry(child_rel, child, info))
                    out.extend(below)
            continue
        out.append(SourceEntry(child_rel, child, info))
        if is_dir:
            out.extend(_walk(child, child_root_rel, child_rel, flt, excludes))
    return out


@lru_cache(maxsize=512)
def _component_regex(pattern: str) -> re.Pattern[str]:
    """Translate one component of a Go ``filepath.Match`` pattern into a regex."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end < 0:
                raise SolveError(
                    f"invalid pattern {pattern!r}: unterminated character class"
                )
            body = pattern[index + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^' if negate else ''}{body}]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def path_match(pattern: str, relpath: str) -> bool:
    """Match ``relpath`` against a pattern with ``**``; a matched folder covers its tree."""
    pattern_parts = [p for p in pattern.split("/") if p]
    path_parts = [p for p in relpath.split("/") if p]

    def match(pi: int, si: int) -> bool:
        if pi == len(pattern_parts):
            return True  # the rest is inside a matched folder
        if pattern_parts[pi] == "**":
            return any(match(pi + 1, k) for k in range(si, len(path_parts) + 1))
        if si == len(path_parts):
            return False
        if not _component_regex(pattern_parts[pi]).match(path_parts[si]):
            return False
        return match(pi + 1, si + 1)

    return bool(pattern_parts) and match(0, 0)


def _glob(root: Path, pattern: str, flt: PathFilter | None) -> list[str]:
    current = [""]
    for part in [p for p in pattern.split("/") if p]:
        following = []
        for base in current:
            if not has_glob(part):
                candidate = f"{base}/{part}"
                if os.path.lexists(
                    resolve_in_root(root, candidate, follow_final=False)
                ):
                    following.append(candidate)
                continue
            try:
                names = sorted(os.listdir(resolve_in_root(root, base or "/")))
            except (NotADirectoryError, FileNotFoundError):
                continue
            regex = _component_regex(part)
            following.extend(f"{base}/{name}" for name in names if regex.match(name))
        current = following
    if flt is None:
        return current
    return [path for path in current if not flt.matches(path.lstrip("/"))]


def _copy_source(
    src_root: Path,
    src: str,
    entries: list[SourceEntry],
    dst_root: Path,
    dest: str,
    dest_is_dir: bool,
    options: CopyOptions,
) -> None:
    top = entries[0]
    is_dir = stat.S_ISDIR(top.info.st_mode)
    if options.parents:
        base = clean_path(dest.rstrip("/") + "/" + _parents_part(src))
        _mkdir_all(dst_root, os.path.dirname(base), options)
        _write_entries(entries, dst_root, base, options)
        return
    if (
        options.attempt_unpack
        and stat.S_ISREG(top.info.st_mode)
        and _is_archive(top.host)
    ):
        _mkdir_all(dst_root, dest, options)
        extract_archive(top.host, resolve_in_root(dst_root, dest), options)
        return
    if is_dir and options.dir_copy_contents:
        _mkdir_all(dst_root, dest, options)
        _write_entries(entries[1:], dst_root, clean_path(dest), options)
        return
    if dest_is_dir or resolve_in_root(dst_root, dest).is_dir():
        _mkdir_all(dst_root, dest, options)
        name = os.path.basename(src.rstrip("/")) or top.host.name
        base = clean_path(dest).rstrip("/") + "/" + name
    else:
        _mkdir_all(dst_root, os.path.dirname(clean_path(dest)), options)
        base = clean_path(dest)
    _write_entries(entries, dst_root, base, options)


def _parents_part(src: str) -> str:
    """Return the part of ``src`` that ``--parents`` keeps under the destination."""
    text = "/" + src.lstrip("/")
    if "/./" in text:
        return text.split("/./", 1)[1]
    return text.lstrip("/")


def _mkdir_all(dst_root: Path, path: str, options: CopyOptions) -> None:
    """Create ``path`` and its missing parents with mode 0755, the copy's owner and timestamp.

    The path is resolved inside the root first, so a link on the way leads to
    folders created inside the root, never outside it.
    """
    host = resolve_in_root(dst_root, path)
    rel = os.path.relpath(host, dst_root)
    if rel == ".":
        return
    current = Path(dst_root)
    for part in rel.split(os.sep):
        current = current / part
        if current.is_dir() and not current.is_symlink():
            continue
        if os.path.lexists(current):
            raise SolveError(
                f"failed to copy to {path}: /{os.path.relpath(current, dst_root)} exists and is not a directory",
                hint="remove the file first or copy to another path",
            )
        os.mkdir(current, 0o755)
        os.chmod(current, 0o755)
        _chown(current, None, options)
        if options.timestamp is not None:
            os.utime(current, (options.timestamp, options.timestamp))


def _write_entries(
    entries: list[SourceEntry], dst_root: Path, base: str, options: CopyOptions
) -> None:
    """Write the entries below ``base``; folders get their final mode and times last."""
    folders: list[tuple[Path, SourceEntry]] = []
    # ``base`` itself is replaced when it is a link; entries below it go into
    # the folder it resolves to inside the root.
    base_host = resolve_in_root(dst_root, base, follow_final=False)
    base_folder = resolve_in_root(dst_root, base)
    for entry in entries:
        # Entries come parents first and every folder among them is made a
        # real folder (a link in its place is replaced) before its children,
        # so joining the names cannot pass through a link; no resolving needed.
        target = base_folder / entry.rel if entry.rel else base_host
        if stat.S_ISDIR(entry.info.st_mode):
            _make_dir(target)
            folders.append((target, entry))
            continue
        _write_file(entry, target, options)
    for target, entry in reversed(folders):
        _finish(target, entry.info, options, is_dir=True)


def _make_dir(target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        return
    _remove_existing(target)
    os.mkdir(target, 0o755)


def _write_file(entry: SourceEntry, target: Path, options: CopyOptions) -> None:
    info = entry.info
    _remove_existing(target)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(entry.host), target)
        _chown(target, info, options)
        _set_times(target, info, options, follow=False)
        return
    if stat.S_ISREG(info.st_mode):
        shutil.copyfile(entry.host, target, follow_symlinks=False)
    elif stat.S_ISFIFO(info.st_mode):
        os.mkfifo(target)
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        os.mknod(target, info.st_mode, info.st_rdev)
    else:
        return  # sockets are not copied, as in BuildKit
    _copy_xattrs(entry.host, target)
    _finish(target, info, options, is_dir=False)


def _remove_existing(target: Path) -> None:
    if not os.path.lexists(target):
        return
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink()


def _finish(
    target: Path, info: os.stat_result, options: CopyOptions, *, is_dir: bool
) -> None:
    mode = stat.S_IMODE(info.st_mode)
    if options.mode is not None:
        mode = options.mode
    elif options.mode_str:
        mode = apply_symbolic_mode(options.mode_str, mode, is_dir)
    _chown(target, info, options)
    os.chmod(target, mode)
    _set_times(target, info, options, follow=True)


def _chown(target: Path, info: os.stat_result | None, options: CopyOptions) -> None:
    uid = gid = 0
    if info is not None and not options.reset_owner:
        uid, gid = info.st_uid, info.st_gid
    if options.owner is not None:
        uid = uid if options.owner.uid is None else options.owner.uid
        gid = gid if options.owner.gid is None else options.owner.gid
    try:
        os.lchown(target, uid, gid)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EPERM):
            raise
        raise SolveError(
            f"failed to set owner {uid}:{gid} on {target.name}: {exc.strerror}",
            hint="a rootless build without /etc/subuid and /etc/subgid ranges can only "
            "use uid 0; add ranges with `usermod --add-subuids`",
        ) from exc


def _set_times(
    target: Path, info: os.stat_result, options: CopyOptions, *, follow: bool
) -> None:
    if options.timestamp is not None:
        times_ns = (options.timestamp * 10**9, options.timestamp * 10**9)
    else:
        times_ns = (info.st_atime_ns, info.st_mtime_ns)
    os.utime(target, ns=times_ns, follow_symlinks=follow)


def _copy_xattrs(src: Path, dst: Path) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith(_OVERLAY_XATTR_PREFIXES) or not name.startswith(
            _KEPT_XATTR_PREFIXES
        ):
            continue
        try:
            value = os.getxattr(src, name, follow_symlinks=False)
            os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError:
            continue


_SYMBOLIC_CLAUSE = re.compile(r"([ugoa]*)([-+=])([rwxXst]*)")
_WHO_MASKS = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}


def apply_symbolic_mode(spec: str, mode: int, is_dir: bool) -> int:
    """Apply a chmod(1) symbolic mode such as ``u+x,go-w`` to ``mode``."""
    for clause in spec.split(","):
        match = _SYMBOLIC_CLAUSE.fullmatch(clause)
        if match is None:
            raise SolveError(
                f"invalid chmod parameter {spec!r}: cannot parse {clause!r}"
            )
        who, operator, perms = match.groups()
        mask = 0
        for person in who or "a":
            mask |= _WHO_MASKS[person]
        bits = _perm_bits(perms, mode, is_dir) & mask
        if operator == "+":
            mode |= bits
        elif operator == "-":
            mode &= ~bits
        else:
            mode = (mode & ~mask) | bits
    return mode & 0o7777


def _perm_bits(perms: str, mode: int, is_dir: bool) -> int:
    bits = 0
    for perm in perms:
        if perm == "r":
            bits |= 0o444
        elif perm == "w":
            bits |= 0o222
        elif perm == "x" or (perm == "X" and (is_dir or mode & 0o111)):
            bits |= 0o111
        elif perm == "s":
            bits |= 0o6000
        elif perm == "t":
            bits |= 0o1000
    return bits


def _is_archive(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


# Exceptions that a damaged compressed stream raises besides tarfile.TarError.
_STREAM_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)


def extract_archive(archive: Path, target_dir: Path, options: CopyOptions) -> None:
    """Unpack a tar archive (plain, gzip, bzip2 or xz) into ``target_dir``, entry by entry.

    Raise SolveError naming the archive, and the entry when one cannot be
    written; messages never show paths under ``--root``.
    """
    try:
        handle = tarfile.open(archive, "r:*")
    except tarfile.TarError as exc:
        raise SolveError(f"failed to unpack {archive.name}: {exc}") from exc
    except _STREAM_ERRORS as exc:
        raise _unpack_error(archive, None, exc) from None
    with handle:
        folders = []
        member: tarfile.TarInfo | None = None
        try:
            for member in handle:
                name = clean_path(member.name)
                if name == "/":
                    continue
                target = resolve_in_root(target_dir, name, follow_final=False)
                _extract_member(handle, member, target, target_dir, options)
                if member.isdir():
                    folders.append((target, member))
        except (tarfile.TarError, *_STREAM_ERRORS) as exc:
            raise _unpack_error(archive, member, exc) from None
        for target, member in reversed(folders):
            os.utime(target, (member.mtime, member.mtime))


def _unpack_error(
    archive: Path, member: tarfile.TarInfo | None, exc: BaseException
) -> SolveError:
    """Describe a failed unpack by the archive member, without host paths."""
    errno_value = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and errno_value is not None and member is None:
        return SolveError(f"failed to unpack {archive.name}: {exc.strerror}")
    if member is None or not isinstance(exc, OSError) or errno_value is None:
        return SolveError(
            f"failed to unpack {archive.name}: the archive is damaged or "
            f"truncated ({exc})",
            hint="check that the file is a complete tar archive",
        )
    if member.islnk() and errno_value == errno.ENOENT:
        return SolveError(
            f"failed to unpack {archive.name}: hard link {member.name!r} points "
            f"to {member.linkname!r}, which is not in the archive before it",
            hint="rebuild the archive so that each hard link's target comes "
            "before the link",
        )
    return SolveError(
        f"failed to unpack {archive.name}: cannot create {member.name!r}: "
        f"{exc.strerror or exc}",
        hint="check the archive's entries: types, names and link targets",
    )


def _extract_member(
    handle: tarfile.TarFile,
    member: tarfile.TarInfo,
    target: Path,
    root: Path,
    options: CopyOptions,
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.isdir():
        _make_dir(target)
    else:
        _remove_existing(target)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            os.link(resolve_in_root(root, member.linkname), target)
        elif member.isreg():
            source = handle.extractfile(member)
            assert source is not None
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        else:
            return
    uid, gid = member.uid, member.gid
    if options.owner is not None:
        uid = uid if options.owner.uid is None else options.owner.uid
        gid = gid if options.owner.gid is None else options.owner.gid
    os.lchown(target, uid, gid)
    if not member.issym():
        os.chmod(target, member.mode & 0o7777)
        os.utime(target, (member.mtime, member.mtime))
