"""The exec op: run a RUN's process on a snapshot and keep what it changed.

The snapshotter prepares the root mount writable. The other mounts become
executor mount specs: binds from snapshots (read-only views, or writable
throw-away copies for ``rw``), local folders filtered by ``.dockerignore``
and copied into store layers, cache folders under ``--root``, tmpfs,
secret files and SSH agent sockets. Secrets travel as bytes straight to the
executor and never enter the cache key, argv, the environment of minikit
itself, or any message.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import threading
from collections import deque
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from minikit.cache.store import remove_tree
from minikit.errors import (
    BuildInterrupted,
    ExecError,
    SecretError,
    SolveError,
    SSHError,
)
from minikit.llb import NO_INDEX, ExecOp, Mount, OpMetadata
from minikit.ops.copy import CopyOptions, enumerate_source, expand_source
from minikit.ops.services import OpServices
from minikit.solver.types import LocalResult, Result, RunContext, SnapshotResult
from minikit.source.local import checksum_entries, entry_digest
from minikit.util.digest import digest_of, sha256_digest
from minikit.util.fs import clean_path, resolve_in_root

# Lines of output kept for the error message of a failed RUN.
TAIL_LINES = 10
# The name of the copied selection inside a local-bind layer: a folder, or a
# file when the bind mounts one file.
LOCAL_COPY_NAME = "content"

# Locks for cache mounts shared with sharing=locked, per cache folder.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class ExecOpImpl:
    """Runs an ``ExecOp``."""

    def __init__(self, op: ExecOp, metadata: OpMetadata, services: OpServices) -> None:
        self.op = op
        self.metadata = metadata
        self.services = services

    def cache_base(self) -> str:
        """Return the digest of the op without inputs and proxy variables."""
        body = self.op.to_dict()
        body.pop("inputs", None)
        body["meta"].pop("proxy_env", None)
        return digest_of(body)

    def content_key(self, index: int, result: Result) -> str | None:
        """Return the checksum of the local folders this RUN bind-mounts from input ``index``."""
        assert isinstance(result, LocalResult)
        source_filter = self.services.filters.get(result.name)
        return self._checksum(index, result.root, source_filter)

    def snapshot_inputs(self) -> frozenset[int]:
        """Return the snapshot inputs that this RUN only bind-mounts, discarding writes.

        The solver may key the RUN on the mounted content of such an input,
        in place of the input's cache key, as BuildKit does.
        """
        binds = {m.input for m in self.op.mounts if _is_content_bind(m)}
        others = {m.input for m in self.op.mounts if not _is_content_bind(m)}
        return frozenset(binds - others - {NO_INDEX})

    def snapshot_key(self, index: int, result: SnapshotResult) -> str:
        """Return the checksum of what this RUN bind-mounts from snapshot ``index``."""
        with self.services.readonly(result.chain) as root:
            return self._checksum(index, root, None)

    def _checksum(self, index: int, root: Path, source_filter: Any) -> str:
        parts = []
        for mount in self.op.mounts:
            if mount.input != index or mount.type != "bind":
                continue
            options = CopyOptions(source_filter=source_filter, allow_wildcard=False)
            selector = mount.selector or "/"
            # Raises SolveError when the path is missing or .dockerignore hides it.
            expand_source(root, selector, options)
            entries = enumerate_source(root, selector, options)
            total = checksum_entries(entries, self.services.digests)[0]
            parts.append([mount.dest, total])
        return digest_of(parts)

    def explain(self) -> dict[str, Any]:
        """Return the command, the environment (as value digests) and the mounts."""
        env = {}
        for item in self.op.meta.env:
            name, _, value = item.partition("=")
            env[name] = sha256_digest(value.encode())[7:23]
        mounts = [f"{m.type}:{m.dest}" for m in self.op.mounts if m.dest != "/"]
        return {
            "command": " ".join(self.op.meta.args),
            "env": env,
            "mounts": mounts,
            "user": self.op.meta.user,
            "cwd": self.op.meta.cwd,
            "network": self.op.network,
        }

    def run(self, ctx: RunContext, inputs: list[Result]) -> Result:
        """Run the process; return the root snapshot with its changes as a new layer."""
        root_mount = self._root_mount()
        base = (
            inputs[root_mount.input]
            if root_mount.input != NO_INDEX
            else SnapshotResult()
        )
        if not isinstance(base, SnapshotResult):
            raise SolveError("the root filesystem of a RUN must be a snapshot")
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        with ExitStack() as stack:
            tree = stack.enter_context(self.services.writable(base.chain))
            assert tree.path is not None
            mounts = self._mounts(inputs, stack, ctx)
            env = self._environment()
            spec = self._spec(tree.path, mounts, env)
            result = self.services.executor.run(
                spec, on_output=_collector(ctx, tail), cancel=ctx.cancel
            )
            if result.cancelled:
                raise BuildInterrupted("build cancelled while running " + ctx.name)
            if result.exit_code != 0:
                raise self._failure(result.exit_code, tail)
            tree.keep = True
        assert tree.result is not None
        return SnapshotResult(tree.result)

    def _root_mount(self) -> Mount:
        for mount in self.op.mounts:
            if mount.dest == "/":
                return mount
        raise SolveError("exec op without a root mount")

    def _environment(self) -> tuple[str, ...]:
        env = list(self.op.meta.env) + list(self.op.meta.proxy_env)
        secrets = self.services.session.secrets
        for secret_env in self.op.secret_env:
            value = secrets.get(secret_env.id)
            if value is None and not secret_env.optional:
                raise SecretError(
                    f"secret {secret_env.id}: not found",
                    hint=f"pass it with --secret id={secret_env.id},src=FILE or ,env=VARIABLE",
                )
            text = (value or b"").decode("utf-8", "surrogateescape")
            env = [item for item in env if item.partition("=")[0] != secret_env.name]
            env.append(f"{secret_env.name}={text}")
        return tuple(env)

    def _spec(self, rootfs: Path, mounts: list[Any], env: tuple[str, ...]) -> Any:
        from minikit.executor import RunSpec

        meta = self.op.meta
        hosts = []
        for item in meta.extra_hosts:
            name, _, address = item.partition("=")
            hosts.append((name, address))
        return RunSpec(
            rootfs=str(rootfs),
            args=meta.args,
            env=env,
            cwd=meta.cwd or "/",
            user=meta.user,
            hostname=meta.hostname or "buildkitsandbox",
            mounts=tuple(mounts),
            network=self.op.network,
            security=self.op.security,
            extra_hosts=tuple(hosts),
            remove_mount_stubs=meta.remove_mount_stubs,
        )

    def _mounts(
        self, inputs: list[Result], stack: ExitStack, ctx: RunContext
    ) -> list[Any]:
        from minikit.executor import MountSpec

        specs = []
        for mount in self.op.mounts:
            if mount.dest == "/":
                continue
            dest = clean_path(mount.dest)
            if mount.type == "bind":
                specs.append(
                    MountSpec(
                        dest,
                        "bind",
                        str(self._bind_source(mount, inputs, stack)),
                        mount.readonly,
                    )
                )
            elif mount.type == "cache":
                specs.append(self._cache_mount(mount, dest, inputs, stack))
            elif mount.type == "tmpfs":
                size = mount.tmpfs.size if mount.tmpfs else 0
                specs.append(MountSpec(dest, "tmpfs", size=size))
            elif mount.type == "secret":
                spec = self._secret_mount(mount, dest)
                if spec is not None:
                    specs.append(spec)
            elif mount.type == "ssh":
                spec = self._ssh_mount(mount, dest, stack)
                if spec is not None:
                    specs.append(spec)
        return specs

    def _bind_source(
        self, mount: Mount, inputs: list[Result], stack: ExitStack
    ) -> Path:
        result = inputs[mount.input] if mount.input != NO_INDEX else SnapshotResult()
        if isinstance(result, LocalResult):
            return self._local_copy(
                result, mount.selector or "/", mount.readonly, stack
            )
        assert isinstance(result, SnapshotResult)
        if mount.readonly:
            root = stack.enter_context(self.services.readonly(result.chain))
        else:
            tree = stack.enter_context(self.services.writable(result.chain))
            assert tree.path is not None
            root = tree.path
        return resolve_in_root(root, mount.selector or "/")

    def _local_copy(
        self, result: LocalResult, selector: str, readonly: bool, stack: ExitStack
    ) -> Path:
        """Mount ``selector`` of a local folder for one RUN, as COPY would see it.

        The selection leaves out what ``.dockerignore`` excludes and gives every
        file the owner 0:0, as BuildKit's context transfer does. It is copied
        once into a store layer named by its content and mtimes, which later
        RUNs and builds mount again. A ``rw`` mount writes to a throw-away upper
        folder, so nothing reaches the user's folder.
        """
        options = CopyOptions(
            source_filter=self.services.filters.get(result.name),
            allow_wildcard=False,
            reset_owner=True,
        )
        expand_source(result.root, selector, options)
        entries = enumerate_source(result.root, selector, options)
        origin = "local-bind:" + self._local_digest(entries)
        layer_id = self.services.store.find_layer_by_origin(origin)
        if layer_id is None:
            layer_id = self._commit_local_copy(result.root, selector, options, origin)
        if readonly:
            root = stack.enter_context(self.services.readonly((layer_id,)))
        else:
            tree = stack.enter_context(self.services.writable((layer_id,)))
            assert tree.path is not None
            root = tree.path
        return root / LOCAL_COPY_NAME

    def _local_digest(self, entries: list[Any]) -> str:
        # The content checksum leaves out mtimes, which a RUN can see.
        total = hashlib.sha256()
        for entry in entries:
            line = entry_digest(entry, self.services.digests)
            text = f"{line}\0{entry.info.st_mtime_ns}\n"
            total.update(text.encode("utf-8", "surrogateescape"))
        return "sha256:" + total.hexdigest()

    def _commit_local_copy(
        self, root: Path, selector: str, options: CopyOptions, origin: str
    ) -> str:
        from minikit.ops.copy import copy as copy_tree

        staged = self.services.store.make_temp_dir("bind-")
        try:
            copy_tree(root, selector, staged, "/" + LOCAL_COPY_NAME, options)
            target = staged / LOCAL_COPY_NAME
            top = os.stat(resolve_in_root(root, selector))
            if target.is_dir():
                os.chmod(target, stat.S_IMODE(top.st_mode))
                os.utime(target, ns=(top.st_atime_ns, top.st_mtime_ns))
            os.chmod(staged, 0o755)
        except BaseException:
            remove_tree(staged)
            raise
        return self.services.store.commit_layer(staged, origin=origin)

    def _cache_mount(
        self, mount: Mount, dest: str, inputs: list[Result], stack: ExitStack
    ) -> Any:
        from minikit.executor import MountSpec

        assert mount.cache is not None
        folder = self._cache_dir(mount, inputs, stack)
        # With from=, source= chose what seeded the folder. Without it, source=
        # is a path inside the cache, which the executor resolves at mount time.
        selector = mount.selector if mount.input == NO_INDEX else ""
        if clean_path(selector or "/") == "/":
            selector = ""
        return MountSpec(
            dest, "bind", str(folder), mount.readonly, selector=selector.lstrip("/")
        )

    def _cache_dir(self, mount: Mount, inputs: list[Result], stack: ExitStack) -> Path:
        assert mount.cache is not None
        opt = mount.cache
        seed = ""
        if mount.input != NO_INDEX:
            seed = f"{_result_identity(inputs[mount.input])}\0{mount.selector}"
        key = hashlib.sha256(
            f"{opt.id}\0{opt.uid}\0{opt.gid}\0{opt.mode:o}\0{seed}".encode()
        ).hexdigest()[:32]
        folder = self.services.store.cache_mount_dir(key, opt.id)
        data = folder / "data"
        if not data.exists():
            self._init_cache_dir(data, mount, inputs, stack)
        if opt.sharing == "locked":
            stack.enter_context(_cache_lock(folder))
        elif opt.sharing == "private" and not stack.enter_context(
            _cache_lock(folder, blocking=False)
        ):
            # Another RUN holds this cache: as BuildKit does for private
            # sharing, this one gets a fresh folder of its own.
            scratch = self.services.store.make_temp_dir("cache-private-")
            stack.callback(remove_tree, scratch)
            target = scratch / "data"
            self._init_cache_dir(target, mount, inputs, stack)
            return target
        return data

    def _init_cache_dir(
        self, data: Path, mount: Mount, inputs: list[Result], stack: ExitStack
    ) -> None:
        assert mount.cache is not None
        staged = self.services.store.make_temp_dir("cache-")
        target = staged / "data"
        target.mkdir()
        if mount.input != NO_INDEX:
            with ExitStack() as seeding:
                source = self._bind_source(
                    Mount(
                        mount.dest,
                        mount.input,
                        selector=mount.selector,
                        readonly=True,
                    ),
                    inputs,
                    seeding,
                )
                from minikit.ops.copy import copy as copy_tree

                copy_tree(source, "/", target, "/", CopyOptions())
        os.chmod(target, mount.cache.mode)
        os.chown(target, mount.cache.uid, mount.cache.gid)
        try:
            os.rename(target, data)
        except OSError:
            pass  # another build created it first
        finally:
            remove_tree(staged)

    def _secret_mount(self, mount: Mount, dest: str) -> Any:
        from minikit.executor import MountSpec

        assert mount.secret is not None
        opt = mount.secret
        value = self.services.session.secrets.get(opt.id)
        if value is None:
            if opt.optional:
                return None
            raise SecretError(
                f"secret {opt.id}: not found",
                hint=f"pass it with --secret id={opt.id},src=FILE or --secret id={opt.id},env=VARIABLE",
            )
        return MountSpec(
            dest,
            "secret",
            readonly=True,
            data=value,
            uid=opt.uid,
            gid=opt.gid,
            mode=opt.mode,
        )

    def _ssh_mount(self, mount: Mount, dest: str, stack: ExitStack) -> Any:
        from minikit.executor import MountSpec

        assert mount.ssh is not None
        opt = mount.ssh
        forwarder = self.services.session.ssh
        if forwarder is None or not forwarder.has(opt.id):
            if opt.optional:
                return None
            if forwarder is None or not forwarder.any():
                raise SSHError(
                    f'no SSH key "{opt.id}" forwarded from the client',
                    hint=f"pass --ssh {opt.id} (your agent) or --ssh {opt.id}=PATH (a socket or key files)",
                )
            raise SSHError(
                f"unset ssh forward key {opt.id}", hint=f"pass --ssh {opt.id}=..."
            )
        socket_path = stack.enter_context(
            forwarder.socket(opt.id, opt.uid, opt.gid, opt.mode)
        )
        return MountSpec(
            dest, "socket", str(socket_path), uid=opt.uid, gid=opt.gid, mode=opt.mode
        )

    def _failure(self, exit_code: int, tail: deque[str]) -> ExecError:
        # BuildKit joins the argv with spaces in this message, quoting nothing.
        command = " ".join(self.op.meta.args)
        return ExecError(
            f'process "{command}" did not complete successfully: exit code: {exit_code}',
            command=command,
            exit_status=exit_code,
            output_tail=tuple(tail),
        )


def _result_identity(result: Result) -> str:
    """Return what names an input's content, for keying the cache folder it seeds."""
    if isinstance(result, SnapshotResult):
        return "snapshot:" + ",".join(result.chain)
    if isinstance(result, LocalResult):
        return f"local:{result.name}:{result.root}"
    return type(result).__name__


def _collector(ctx: RunContext, tail: deque[str]):  # type: ignore[no-untyped-def]
    """Return an output callback that forwards to progress and keeps the last lines."""
    partial = {1: b"", 2: b""}

    def on_output(stream: int, data: bytes) -> None:
        ctx.log(data, stream)
        lines = (partial.get(stream, b"") + data).split(b"\n")
        partial[stream] = lines.pop()
        tail.extend(line.decode("utf-8", "replace") for line in lines)

    return on_output


@contextmanager
def _cache_lock(folder: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of a cache folder across threads and processes.

    Yields True when the lock is held; without ``blocking`` it yields False
    at once when another user holds it.
    """
    with _locks_guard:
        thread_lock = _locks.setdefault(str(folder), threading.Lock())
    if not thread_lock.acquire(blocking=blocking):
        yield False
        return
    try:
        with open(folder / ".lock", "a") as handle:
            flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
            try:
                fcntl.flock(handle, flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        thread_lock.release()


def _is_content_bind(mount: Mount) -> bool:
    """Tell whether a mount is a bind whose writes are thrown away (not the root)."""
    return mount.type == "bind" and mount.dest != "/" and mount.output == NO_INDEX
