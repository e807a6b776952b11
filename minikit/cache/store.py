"""The on-disk store under ``--root``: layers, blobs, cache records, cache mounts.

Layout::

    ROOT/store.db          sqlite database (WAL) indexing everything below
    ROOT/l/<id>/           one layer: a diff dir in overlayfs format
    ROOT/blobs/sha256/<h>  content-addressed blobs (layer tars, configs, manifests)
    ROOT/mounts/<h>/       contents of RUN --mount=type=cache, by cache id
    ROOT/tmp/<pid>-<r>/    work in progress, owned by the process with that pid

Crash safety: a layer or blob is written under ``tmp/``, renamed into place,
and only then recorded in the database. A directory under ``l/`` that the
database does not know, or a ``tmp/`` entry whose process is gone, is debris
from a killed build; ``sweep`` removes it. Records only ever name layers that
were fully written, so a build killed at any moment leaves a store from which
the next build succeeds.

Concurrency: sqlite serializes writers across processes (``busy_timeout``);
two builds that produce the same layer each write their own folder and the
loser of the insert throws its copy away. Running builds hold leases on the
layers they use, and pruning skips leased layers of live processes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from minikit.errors import CacheError
from minikit.util.digest import hex_of

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL,           -- 'pull:<blob digest>' or 'build'
    diff_id TEXT,
    blob_digest TEXT,
    blob_size INTEGER,
    media_type TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS layers_origin ON layers(origin) WHERE origin != 'build';
CREATE TABLE IF NOT EXISTS records (
    cache_key TEXT PRIMARY KEY,
    chain TEXT NOT NULL,            -- JSON list of layer ids, bottom first
    description TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS explain (
    step TEXT PRIMARY KEY,
    cache_key TEXT NOT NULL,
    components TEXT NOT NULL,       -- JSON: what the key was made of (never secret values)
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    layer_id TEXT NOT NULL,
    PRIMARY KEY (pid, started, layer_id)
);
CREATE TABLE IF NOT EXISTS mounts (
    id TEXT PRIMARY KEY,            -- hash of the cache mount id
    name TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memos (
    key TEXT PRIMARY KEY,           -- digest of everything a whole build depended on
    data TEXT NOT NULL,             -- JSON: its result (see minikit.worker.memo)
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    cache_key TEXT PRIMARY KEY,     -- a step keyed on content it reads from snapshots
    link TEXT NOT NULL,             -- its content key, which later steps build on
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT PRIMARY KEY,           -- what was exported, e.g. 'rootfs-tar:<chain digest>'
    digest TEXT NOT NULL,           -- the blob holding it
    created REAL NOT NULL
);
"""


_PUT_RECORD = (
    "INSERT INTO records(cache_key, chain, description, created, last_used) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET "
    "chain = excluded.chain, description = excluded.description, "
    "last_used = excluded.last_used"
)
_PUT_LINK = "INSERT OR REPLACE INTO links(cache_key, link, created) VALUES (?, ?, ?)"
_PUT_EXPLAIN = (
    "INSERT INTO explain(step, cache_key, components, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(step) DO UPDATE SET cache_key = excluded.cache_key, "
    "components = excluded.components, updated = excluded.updated"
)


@dataclass(frozen=True)
class LayerRecord:
    """A committed layer: its folder and, once computed, its blob."""

    id: str
    path: Path
    origin: str
    diff_id: str | None
    blob_digest: str | None
    blob_size: int | None
    media_type: str | None
    size: int
    created: float = 0.0


class Store:
    """The store under one ``--root``; safe to use from many threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.layers_dir = root / "l"
        self.blobs_dir = root / "blobs" / "sha256"
        self.mounts_dir = root / "mounts"
        self.tmp_dir = root / "tmp"
        for folder in (self.layers_dir, self.blobs_dir, self.mounts_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._started = time.time()
        # Layers this process committed from its own steps, for the secret leak guard.
        self.built_here: set[str] = set()
        self._db = self._open_db(root / "store.db")

    def _open_db(self, path: Path) -> sqlite3.Connection:
        try:
            # SQLite can return "database is locked" at once, without waiting,
            # when two processes switch a new database to WAL together, so
            # opening and creating the schema take turns under a file lock.
            with open(path.with_name("store.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                db = sqlite3.connect(
                    path, timeout=60, isolation_level=None, check_same_thread=False
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA busy_timeout=60000")
                db.executescript(_SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except OSError as exc:
            raise CacheError(
                f"failed to lock the cache database {path}: {exc}",
                hint="check that --root points at a writable folder",
            ) from exc
        except sqlite3.Error as exc:
            raise CacheError(
                f"failed to open the cache database {path}: {exc}",
                hint="check that --root points at a writable folder; "
                "`minikit prune --all` or removing the folder resets it",
            ) from exc
        return db

    def close(self) -> None:
        """Close the database and drop this process's leases."""
        with self._lock:
            self._db.execute("DELETE FROM leases WHERE pid = ?", (os.getpid(),))
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the body as one immediate (write-locked) transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a read query and return all rows."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- temporary space -------------------------------------------------

    def make_temp_dir(self, prefix: str = "") -> Path:
        """Create a fresh folder under ``tmp/`` owned by this process."""
        name = f"{os.getpid()}-{prefix}{_random_suffix()}"
        path = self.tmp_dir / name
        path.mkdir(mode=0o700)
        return path

    # -- layers ------------------------------------------------------------

    def new_layer_id(self) -> str:
        """Return a fresh layer id (short, so overlay mount options stay small)."""
        return _random_suffix()

    def layer_path(self, layer_id: str) -> Path:
        """Return the folder of layer ``layer_id``."""
        return self.layers_dir / layer_id

    def commit_layer(
        self, staged: Path, *, origin: str = "build", size: int = 0
    ) -> str:
        """Move a fully written diff dir into the store and record it; return its id.

        The row is inserted (with a lease) before the folder appears under
        ``l/``, so ``sweep`` never mistakes a layer being committed for debris.
        For an ``origin`` other than ``build`` (a pulled blob), an existing
        layer of the same origin wins and ``staged`` is deleted.
        """
        layer_id = self.new_layer_id()
        now = time.time()
        with self.transaction() as db:
            if origin != "build":
                row = db.execute(
                    "SELECT id FROM layers WHERE origin = ?", (origin,)
                ).fetchone()
                if row is not None and self.layer_path(row[0]).is_dir():
                    db.execute(
                        "UPDATE layers SET last_used = ? WHERE id = ?", (now, row[0])
                    )
                    self._lease(db, row[0])
                    remove_tree(staged)
                    return row[0]
                if row is not None:
                    db.execute("DELETE FROM layers WHERE id = ?", (row[0],))
            db.execute(
                "INSERT INTO layers(id, origin, size, created, last_used) VALUES (?, ?, ?, ?, ?)",
                (layer_id, origin, size, now, now),
            )
            self._lease(db, layer_id)
        os.rename(staged, self.layer_path(layer_id))
        if origin == "build":
            self.built_here.add(layer_id)
        return layer_id

    def find_layer_by_origin(self, origin: str) -> str | None:
        """Return the id of the layer recorded for ``origin``, if its folder exists."""
        rows = self.query("SELECT id FROM layers WHERE origin = ?", (origin,))
        if not rows:
            return None
        layer_id = rows[0][0]
        if not self.layer_path(layer_id).is_dir():
            return None
        with self.transaction() as db:
            db.execute(
                "UPDATE layers SET last_used = ? WHERE id = ?", (time.time(), layer_id)
            )
            self._lease(db, layer_id)
        return layer_id

    def layer(self, layer_id: str) -> LayerRecord:
        """Return the record of layer ``layer_id``; raise CacheError when it is unknown."""
        rows = self.query(
            "SELECT origin, diff_id, blob_digest, blob_size, media_type, size, created "
            "FROM layers WHERE id = ?",
            (layer_id,),
        )
        if not rows:
            raise CacheError(
                f"layer {layer_id} is not in the store", hint="run the build again"
            )
        origin, diff_id, blob_digest, blob_size, media_type, size, created = rows[0]
        return LayerRecord(
            layer_id,
            self.layer_path(layer_id),
            origin,
            diff_id,
            blob_digest,
            blob_size,
            media_type,
            size,
            created,
        )

    def set_layer_blob(
        self,
        layer_id: str,
        *,
        diff_id: str,
        blob_digest: str,
        blob_size: int,
        media_type: str,
    ) -> None:
        """Record the blob computed (or pulled) for a layer."""
        with self.transaction() as db:
            db.execute(
                "UPDATE layers SET diff_id = ?, blob_digest = ?, blob_size = ?, media_type = ? WHERE id = ?",
                (diff_id, blob_digest, blob_size, media_type, layer_id),
            )

    def _lease(self, db: sqlite3.Connection, layer_id: str) -> None:
        db.execute(
            "INSERT OR IGNORE INTO leases(pid, started, layer_id) VALUES (?, ?, ?)",
            (os.getpid(), self._started, layer_id),
        )

    def lease_chain(self, chain: tuple[str, ...]) -> None:
        """Mark every layer of ``chain`` as in use by this process."""
        with self.transaction() as db:
            self._touch_chain(db, chain, time.time())

    def _touch_chain(
        self, db: sqlite3.Connection, chain: tuple[str, ...], now: float
    ) -> None:
        for layer_id in chain:
            db.execute("UPDATE layers SET last_used = ? WHERE id = ?", (now, layer_id))
            self._lease(db, layer_id)

    # -- blobs ----------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Return where the blob ``digest`` is stored (it may not exist yet)."""
        return self.blobs_dir / hex_of(digest)

    def has_blob(self, digest: str) -> bool:
        """Tell whether the blob ``digest`` is in the store."""
        return self.blob_path(digest).is_file()

    def commit_blob(
        self, staged: Path, digest: str, size: int, media_type: str = ""
    ) -> Path:
        """Move a verified blob file into the store; return its final path."""
        final = self.blob_path(digest)
        os.replace(staged, final)
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO blobs(digest, size, media_type, created, last_used) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(digest) DO UPDATE SET last_used = excluded.last_used",
                (digest, size, media_type, now, now),
            )
        return final

    def write_blob(self, data: bytes, digest: str, media_type: str = "") -> Path:
        """Store ``data`` (already known to have ``digest``) as a blob."""
        if self.has_blob(digest):
            return self.blob_path(digest)
        staged = self.tmp_dir / f"{os.getpid()}-blob-{_random_suffix()}"
        staged.write_bytes(data)
        return self.commit_blob(staged, digest, len(data), media_type)

    # -- cache records --------------------------------------------------------

    def get_artifact(self, key: str) -> Path | None:
        """Return the blob of an earlier export recorded under ``key``, if it is still stored."""
        rows = self.query("SELECT digest FROM artifacts WHERE key = ?", (key,))
        if not rows or not self.has_blob(rows[0][0]):
            return None
        return self.blob_path(rows[0][0])

    def put_artifact(self, key: str, digest: str) -> None:
        """Record that blob ``digest`` holds the export ``key``."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO artifacts(key, digest, created) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET digest = excluded.digest",
                (key, digest, time.time()),
            )

    def get_record(self, cache_key: str) -> tuple[str, ...] | None:
        """Return the layer chain stored for ``cache_key`` when all its layers exist."""
        rows = self.query("SELECT chain FROM records WHERE cache_key = ?", (cache_key,))
        if not rows:
            return None
        chain = tuple(json.loads(rows[0][0]))
        if not all(self.layer_path(layer_id).is_dir() for layer_id in chain):
            log.warning("cache record %s names a missing layer; ignoring it", cache_key)
            return None
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "UPDATE records SET last_used = ? WHERE cache_key = ?", (now, cache_key)
            )
            self._touch_chain(db, chain, now)
        return chain

    def peek_record(self, cache_key: str) -> tuple[str, ...] | None:
        """Return the chain of ``cache_key`` like ``get_record``, writing nothing."""
        rows = self.query("SELECT chain FROM records WHERE cache_key = ?", (cache_key,))
        if not rows:
            return None
        chain = tuple(json.loads(rows[0][0]))
        if not all(self.layer_path(layer_id).is_dir() for layer_id in chain):
            return None
        return chain

    def put_record(
        self, cache_key: str, chain: tuple[str, ...], description: str = ""
    ) -> None:
        """Store (or replace) the result of ``cache_key``."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                _PUT_RECORD, (cache_key, json.dumps(list(chain)), description, now, now)
            )

    def get_link(self, cache_key: str) -> str | None:
        """Return the content key remembered for the step recorded as ``cache_key``."""
        rows = self.query("SELECT link FROM links WHERE cache_key = ?", (cache_key,))
        return rows[0][0] if rows else None

    def put_link(self, cache_key: str, link: str) -> None:
        """Remember ``link`` as the content key of the step recorded as ``cache_key``."""
        with self.transaction() as db:
            db.execute(_PUT_LINK, (cache_key, link, time.time()))

    def put_result(
        self,
        cache_key: str,
        chain: tuple[str, ...] | None,
        description: str = "",
        explain: tuple[str, str, dict] | None = None,
        link: str = "",
    ) -> None:
        """Store a step's result and what its key was made of, in one transaction.

        ``chain`` None means the result is not a snapshot (no record);
        ``explain`` is (step, slot, components) as ``put_explains`` takes;
        ``link``, the step's content key, gets the same record and becomes
        what ``get_link`` returns for ``cache_key``.
        """
        now = time.time()
        with self.transaction() as db:
            if chain is not None:
                db.execute(
                    _PUT_RECORD,
                    (cache_key, json.dumps(list(chain)), description, now, now),
                )
            if chain is not None and link:
                db.execute(
                    _PUT_RECORD, (link, json.dumps(list(chain)), description, now, now)
                )
                db.execute(_PUT_LINK, (cache_key, link, now))
            if explain is not None:
                step, slot, components = explain
                text = json.dumps(components, sort_keys=True)
                for name in (step, slot):
                    if name:
                        db.execute(_PUT_EXPLAIN, (name, cache_key, text, now))

    # -- explain records ------------------------------------------------------

    def put_explains(self, items: list[tuple[str, str, str, dict]]) -> None:
        """Remember (step, slot, cache key, components) of steps that hit the cache.

        Rows whose key did not change are left alone, so a fully cached build
        writes nothing.
        """
        names = [
            name for step, slot, _key, _c in items for name in (step, slot) if name
        ]
        if not names:
            return
        known: dict[str, str] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                self.query(
                    f"SELECT step, cache_key FROM explain WHERE step IN ({marks})",
                    tuple(chunk),
                )
            )
        changed = [
            (name, key, components)
            for step, slot, key, components in items
            for name in (step, slot)
            if name and known.get(name) != key
        ]
        if not changed:
            return
        now = time.time()
        with self.transaction() as db:
            for name, key, components in changed:
                db.execute(
                    _PUT_EXPLAIN,
                    (name, key, json.dumps(components, sort_keys=True), now),
                )

    def get_explain(self, step: str) -> tuple[str, dict] | None:
        """Return (cache key, components) of the last build of ``step``."""
        rows = self.query(
            "SELECT cache_key, components FROM explain WHERE step = ?", (step,)
        )
        if not rows:
            return None
        return rows[0][0], json.loads(rows[0][1])

    def put_explain(self, step: str, cache_key: str, components: dict) -> None:
        """Remember what the key of ``step`` was made of in this build."""
        text = json.dumps(components, sort_keys=True)
        with self.transaction() as db:
            db.execute(_PUT_EXPLAIN, (step, cache_key, text, time.time()))

    # -- cache mounts ---------------------------------------------------------

    def cache_mount_dir(self, key: str, name: str) -> Path:
        """Return (creating it) the persistent folder of a cache mount."""
        path = self.mounts_dir / key
        now = time.time()
        if not path.is_dir():
            staged = self.make_temp_dir("mount-")
            try:
                os.rename(staged, path)
            except OSError:
                remove_tree(staged)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO mounts(id, name, created, last_used) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET last_used = excluded.last_used",
                (key, name, now, now),
            )
        return path

    # -- debris ---------------------------------------------------------------

    def sweep(self) -> int:
        """Remove what killed builds left behind; return the number of entries removed."""
        removed = 0
        for entry in list(self.tmp_dir.iterdir()):
            pid_text = entry.name.split("-", 1)[0]
            # Entries without a pid (the snapshotter's mount points) are shared
            # by every build and are never debris.
            if not pid_text.isdigit() or _pid_alive(int(pid_text)):
                continue
            remove_tree(entry)
            removed += 1
        # A row is inserted before its folder appears, so a folder seen first
        # and then found without a row is debris, whatever other builds do.
        for entry in list(self.layers_dir.iterdir()):
            if not self.query("SELECT 1 FROM layers WHERE id = ?", (entry.name,)):
                remove_tree(entry)
                removed += 1
        known = {row[0] for row in self.query("SELECT id FROM layers")}
        with self.transaction() as db:
            for (pid,) in db.execute("SELECT DISTINCT pid FROM leases").fetchall():
                if pid != os.getpid() and not _pid_alive(pid):
                    db.execute("DELETE FROM leases WHERE pid = ?", (pid,))
            leased = {
                row[0] for row in db.execute("SELECT layer_id FROM leases").fetchall()
            }
            for layer_id in known - leased:
                if not self.layer_path(layer_id).is_dir():
                    db.execute("DELETE FROM layers WHERE id = ?", (layer_id,))
        return removed


def _random_suffix() -> str:
    """Return 12 random hex digits that keep temporary names apart."""
    return os.urandom(6).hex()


def _pid_alive(pid: int) -> bool:
    """Tell whether process ``pid`` still runs; a zombie (killed, not reaped) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def remove_tree(path: Path) -> None:
    """Delete a file or folder tree, making read-only folders writable on the way."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return

    def fix_and_retry(function, failed_path, _exc_info):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(failed_path)
        try:
            os.chmod(parent, 0o700)
            if os.path.isdir(failed_path) and not os.path.islink(failed_path):
                os.chmod(failed_path, 0o700)
        except OSError:
            pass
        function(failed_path)

    shutil.rmtree(path, onerror=fix_and_retry)
