"""The file op: mkdir, mkfile, rm, symlink and copy actions on a snapshot.

Actions run in order. Each works on a tree: a fresh empty one, a snapshot
from the op's inputs, or the tree an earlier action produced (an index of at
least ``len(op.inputs)``). The tree of the action whose ``output`` is 0
becomes the result, committed as one new layer on top of its base.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikit.errors import SolveError
from minikit.llb import (
    NO_INDEX,
    ChownOpt,
    CopyAction,
    FileOp,
    MkdirAction,
    MkfileAction,
    OpMetadata,
    RmAction,
    SymlinkAction,
)
from minikit.ops.copy import CopyOptions, Owner, copy, enumerate_source, expand_source
from minikit.ops.services import OpServices, WritableTree
from minikit.solver.types import LocalResult, Result, RunContext, SnapshotResult
from minikit.source.local import checksum_entries
from minikit.util.digest import digest_of
from minikit.util.fs import clean_path, resolve_in_root
from minikit.util.users import resolve_chown


@dataclass
class _Source:
    """Where a copy reads from: a folder, and whether its files are re-owned to root."""

    root: Path
    local: LocalResult | None = None


class FileOpImpl:
    """Runs a ``FileOp``."""

    def __init__(self, op: FileOp, metadata: OpMetadata, services: OpServices) -> None:
        self.op = op
        self.metadata = metadata
        self.services = services
        self._files: dict[str, str] = {}

    def cache_base(self) -> str:
        """Return the digest of the actions (the inputs count through their keys)."""
        body = self.op.to_dict()
        body.pop("inputs", None)
        return digest_of(body)

    def content_key(self, index: int, result: Result) -> str | None:
        """Return the checksum of everything the copies read from local input ``index``."""
        assert isinstance(result, LocalResult)
        return self._checksum(index, result.root, result, self._files)

    def snapshot_inputs(self) -> frozenset[int]:
        """Return the snapshot inputs that only copies read from.

        The solver may key this op on what the copies select from such an
        input, in place of the input's cache key, as BuildKit does.
        """
        sources = {a.secondary_input for a in self.op.actions if _is_copy(a.action)}
        bases = {a.input for a in self.op.actions}
        return frozenset(sources - bases - {NO_INDEX})

    def snapshot_key(self, index: int, result: SnapshotResult) -> str:
        """Return the checksum of what the copies select from snapshot ``index``."""
        with self.services.readonly(result.chain) as root:
            return self._checksum(index, root, None, {})

    def _checksum(
        self,
        index: int,
        root: Path,
        local: LocalResult | None,
        files: dict[str, str],
    ) -> str:
        parts = []
        for action in self.op.actions:
            if not _is_copy(action.action) or action.secondary_input != index:
                continue
            options = self._options(action.action, local, owner=None)
            for match in expand_source(root, action.action.src, options):
                entries = enumerate_source(root, match, options)
                total, per_entry = checksum_entries(entries, self.services.digests)
                parts.append([match, total])
                for rel, digest in list(per_entry.items())[:200]:
                    files[f"{match.rstrip('/')}/{rel}".replace("/.", "") or "/"] = (
                        digest
                    )
        return digest_of(parts)

    def explain(self) -> dict[str, Any]:
        """Return the instruction text and the selected files' digests."""
        command = self.metadata.description.get("com.docker.dockerfile.v1.command", "")
        return {"command": command or self.metadata.name, "files": dict(self._files)}

    def run(self, ctx: RunContext, inputs: list[Result]) -> Result:
        """Apply every action and commit the output tree as a layer."""
        with ExitStack() as stack:
            trees: dict[int, WritableTree] = {}
            output: WritableTree | None = None
            for number, action in enumerate(self.op.actions):
                tree = self._primary(action.input, inputs, trees, stack)
                self._apply(
                    action.action, tree, action.secondary_input, inputs, trees, stack
                )
                trees[number] = tree
                if action.output == 0:
                    output = tree
            if output is None:
                output = trees[len(self.op.actions) - 1]
            output.keep = True
        assert output.result is not None
        return SnapshotResult(output.result)

    def _primary(
        self,
        index: int,
        inputs: list[Result],
        trees: dict[int, WritableTree],
        stack: ExitStack,
    ) -> WritableTree:
        if index == NO_INDEX:
            return stack.enter_context(self.services.writable(()))
        count = len(self.op.inputs)
        if index >= count:
            return trees.pop(index - count)
        base = inputs[index]
        if not isinstance(base, SnapshotResult):
            raise SolveError("a file op can only change a snapshot, not a local folder")
        return stack.enter_context(self.services.writable(base.chain))

    def _secondary(
        self,
        index: int,
        inputs: list[Result],
        trees: dict[int, WritableTree],
        stack: ExitStack,
    ) -> _Source | None:
        if index == NO_INDEX:
            return None
        count = len(self.op.inputs)
        if index >= count:
            tree = trees[index - count]
            assert tree.path is not None
            return _Source(tree.path)
        result = inputs[index]
        if isinstance(result, LocalResult):
            return _Source(result.root, result)
        assert isinstance(result, SnapshotResult)
        return _Source(stack.enter_context(self.services.readonly(result.chain)))

    def _apply(
        self,
        action: Any,
        tree: WritableTree,
        secondary: int,
        inputs: list[Result],
        trees: dict[int, WritableTree],
        stack: ExitStack,
    ) -> None:
        root = tree.path
        assert root is not None
        if isinstance(action, CopyAction):
            source = self._secondary(secondary, inputs, trees, stack)
            if source is None:
                raise SolveError("copy action without a source")
            self._copy(action, source, root)
        elif isinstance(action, MkdirAction):
            self._mkdir(action, root)
        elif isinstance(action, MkfileAction):
            self._mkfile(action, root)
        elif isinstance(action, RmAction):
            self._rm(action, root)
        elif isinstance(action, SymlinkAction):
            self._symlink(action, root)
        else:
            raise SolveError(f"unknown file action {type(action).__name__}")

    def _owner(self, owner: ChownOpt | None, root: Path) -> Owner | None:
        if owner is None:
            return None
        user = group = None
        if owner.user is not None:
            user = (
                owner.user.name if owner.user.name is not None else str(owner.user.id)
            )
        if owner.group is not None:
            group = (
                owner.group.name
                if owner.group.name is not None
                else str(owner.group.id)
            )
        uid, gid = resolve_chown(root, user, group)
        return Owner(uid, gid)

    def _options(
        self, action: CopyAction, local: LocalResult | None, owner: Owner | None
    ) -> CopyOptions:
        source_filter = None
        if local is not None:
            source_filter = self.services.filters.get(local.name)
        return CopyOptions(
            owner=owner,
            mode=action.mode,
            mode_str=action.mode_str,
            follow_symlink=action.follow_symlink,
            dir_copy_contents=action.dir_copy_contents,
            attempt_unpack=action.attempt_unpack,
            create_dest_path=action.create_dest_path,
            allow_wildcard=action.allow_wildcard,
            allow_empty_wildcard=action.allow_empty_wildcard,
            timestamp=action.timestamp,
            exclude_patterns=action.exclude_patterns,
            parents=action.parents,
            source_filter=source_filter,
            reset_owner=local is not None,
        )

    def _copy(self, action: CopyAction, source: _Source, root: Path) -> None:
        options = self._options(action, source.local, self._owner(action.owner, root))
        copy(source.root, action.src, root, action.dest, options)

    def _mkdir(self, action: MkdirAction, root: Path) -> None:
        owner = self._owner(action.owner, root)
        path = clean_path(action.path)
        if not action.make_parents:
            host = resolve_in_root(root, path)
            if not host.parent.is_dir():
                raise SolveError(
                    f"failed to create directory {path}: parent does not exist"
                )
            self._make_one_dir(host, action, owner)
            return
        current = ""
        for part in [p for p in path.split("/") if p]:
            current = f"{current}/{part}"
            host = resolve_in_root(root, current)
            if host.is_dir():
                continue
            if os.path.lexists(host):
                raise SolveError(
                    f"failed to create directory {path}: {current} is not a directory"
                )
            self._make_one_dir(host, action, owner)

    @staticmethod
    def _make_one_dir(host: Path, action: MkdirAction, owner: Owner | None) -> None:
        if host.is_dir():
            return
        os.mkdir(host)
        os.chmod(host, action.mode)
        _chown(host, owner)
        if action.timestamp is not None:
            os.utime(host, (action.timestamp, action.timestamp))

    def _mkfile(self, action: MkfileAction, root: Path) -> None:
        host = resolve_in_root(root, action.path)
        if not host.parent.is_dir():
            raise SolveError(
                f"failed to create file {action.path}: parent does not exist"
            )
        if host.is_dir() and not host.is_symlink():
            shutil.rmtree(host)
        elif os.path.lexists(host):
            host.unlink()
        host.write_bytes(action.data)
        os.chmod(host, action.mode)
        _chown(host, self._owner(action.owner, root))
        if action.timestamp is not None:
            os.utime(host, (action.timestamp, action.timestamp))

    def _rm(self, action: RmAction, root: Path) -> None:
        path = clean_path(action.path)
        targets = [path]
        if action.allow_wildcard:
            parent = resolve_in_root(root, os.path.dirname(path))
            pattern = os.path.basename(path)
            names = os.listdir(parent) if parent.is_dir() else []
            targets = [
                os.path.join(os.path.dirname(path), n)
                for n in names
                if fnmatch.fnmatchcase(n, pattern)
            ]
        for target in targets:
            host = resolve_in_root(root, target, follow_final=False)
            if not os.path.lexists(host):
                if action.allow_not_found:
                    continue
                raise SolveError(f"failed to remove {target}: not found")
            if host.is_dir() and not host.is_symlink():
                shutil.rmtree(host)
            else:
                host.unlink()

    def _symlink(self, action: SymlinkAction, root: Path) -> None:
        host = resolve_in_root(root, action.newpath, follow_final=False)
        os.symlink(action.oldpath, host)
        owner = self._owner(action.owner, root)
        if owner is not None:
            os.lchown(
                host,
                owner.uid if owner.uid is not None else 0,
                owner.gid if owner.gid is not None else 0,
            )


def _chown(host: Path, owner: Owner | None) -> None:
    uid = 0 if owner is None or owner.uid is None else owner.uid
    gid = 0 if owner is None or owner.gid is None else owner.gid
    os.lchown(host, uid, gid)


def _is_copy(action: Any) -> bool:
    return isinstance(action, CopyAction)
