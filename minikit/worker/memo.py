"""The build memo: a whole build that is unchanged since last time skips to export.

A warm rebuild spends most of its time starting Python and importing the
parser, converter and solver only to find every step in the cache. The memo
records, after a build, what that build depended on and what it produced:

- the request (every flag, with build args resolved; secret and SSH ids but
  never secret values, which do not change cache keys in BuildKit either),
- the Dockerfile's bytes, the config file's bytes, minikit's own version and
  source files (by size and mtime),
- the stat of every entry of the context and of local named contexts (path,
  type, mode, size, mtime and ctime, so any change to a file shows),
- each image reference the build resolved, with the digest it resolved to.

The next build with the same key pins those references again (a tag that
moved means a miss, as BuildKit would rebuild) and checks that every layer
of the result is still stored. Only then does it skip parsing and solving
and export the recorded result. Builds that fetch Git or HTTP sources, use a
Git context, export or import caches, or disable the cache are never
memoized, so the memo can only return what the full path would have built.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import minikit
from minikit.util.digest import digest_of, sha256_digest

log = logging.getLogger(__name__)

# Bump when the recorded structure changes.
MEMO_VERSION = 1
# Request fields that only decide where and how the result is written, or how
# fast it is built; they never change the result itself.
_NOT_IN_KEY = ("dockerfile_text", "cwd", "outputs", "tags", "jobs")


@dataclass
class MemoRecord:
    """What a memoized build produced, and the images it must re-resolve."""

    chain: list[str]
    image: dict[str, Any]
    images: list[list[str]]  # [reference, platform, pinned reference]
    steps: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)


def memoizable(request: Any) -> bool:
    """Tell whether a build of ``request`` may use and fill the memo."""
    return not (
        request.no_cache
        or request.no_cache_filter
        or request.cache_from
        or request.cache_to
        or request.context_url
        or request.check_only
        or request.explain_cache
        or any(named.kind == "oci-layout" for named in request.named_contexts.values())
    )


def memo_key(request: Any, context: Path, dockerfile: bytes) -> str:
    """Return the key of a build: everything that may change its result."""
    fields = {}
    for item in dataclasses.fields(request):
        value = getattr(request, item.name)
        if item.name in _NOT_IN_KEY:
            continue
        if item.name == "secrets":
            value = [[spec.id, spec.kind] for spec in value]
        fields[item.name] = _plain(value)
    locals_ = {"context": str(context)}
    for name, named in request.named_contexts.items():
        if named.kind == "local":
            locals_[name] = named.value
    return digest_of(
        {
            "version": MEMO_VERSION,
            "minikit": _code_identity(),
            "request": fields,
            "dockerfile": digest_of(dockerfile.decode("utf-8", "surrogateescape")),
            "config": _file_identity(_config_path(request)),
            "trees": {name: _tree_identity(Path(path)) for name, path in sorted(locals_.items())},
        }
    )


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Path):
        return str(value)
    return value


def _code_identity() -> list[Any]:
    entries: list[list[Any]] = []
    _list_sources(os.path.dirname(minikit.__file__), "", entries)
    return [minikit.__version__, digest_of(entries)]


def _list_sources(folder: str, relative: str, entries: list[list[Any]]) -> None:
    """Add [path, size, mtime] of each .py and .lark file below ``folder``, sorted."""
    with os.scandir(folder) as scan:
        found = sorted(scan, key=lambda entry: entry.name)
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__":
                _list_sources(entry.path, relative + entry.name + "/", entries)
        elif entry.name.endswith((".py", ".lark")):
            info = entry.stat()
            entries.append([relative + entry.name, info.st_size, info.st_mtime_ns])


def _config_path(request: Any) -> Path:
    from minikit.registry.config import default_config_path

    return request.config_path or default_config_path()


def _file_identity(path: Path) -> str:
    try:
        return sha256_digest(path.read_bytes())
    except OSError:
        return "absent"


def _tree_identity(root: Path) -> str:
    """Return a digest of the stat of every entry below ``root``."""
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            entries.append(
                [
                    os.path.relpath(path, root),
                    stat.S_IFMT(info.st_mode),
                    stat.S_IMODE(info.st_mode),
                    info.st_size,
                    info.st_mtime_ns,
                    info.st_ctime_ns,
                ]
            )
    return digest_of(entries)


class Memo:
    """The memo table in the store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, key: str) -> MemoRecord | None:
        """Return the record of ``key`` if every layer of its result is still stored."""
        rows = self.store.query("SELECT data FROM memos WHERE key = ?", (key,))
        if not rows:
            return None
        try:
            record = MemoRecord(**json.loads(rows[0][0]))
        except (TypeError, ValueError):
            return None
        for layer_id in record.chain:
            if not self.store.layer_path(layer_id).is_dir():
                return None
        self.store.lease_chain(tuple(record.chain))
        return record

    def put(self, key: str, record: MemoRecord) -> None:
        """Store ``record`` under ``key``."""
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO memos(key, data, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                (key, json.dumps(dataclasses.asdict(record), sort_keys=True), time.time()),
            )
