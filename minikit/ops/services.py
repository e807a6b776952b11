"""What op implementations use: the store, snapshotter, executor, sources, session."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from minikit.cache.store import Store, remove_tree
from minikit.oci.spec import Platform
from minikit.source.local import FileDigestCache

if TYPE_CHECKING:
    from minikit.ops.copy import PathFilter


@dataclass
class OpServices:
    """The concrete parts the worker wires together for the ops."""

    store: Store
    snapshotter: Any  # minikit.snapshot.Snapshotter
    executor: Any  # minikit.executor.Executor, started lazily by the worker
    images: Any  # minikit.source.image.ImagePuller
    session: Any  # minikit.session.Session
    platform: Platform
    rootless: bool = False
    digests: FileDigestCache = field(default_factory=FileDigestCache)
    filters: dict[str, PathFilter] = field(default_factory=dict)
    git: Any = None  # minikit.source.git.GitSource
    http: Any = None  # minikit.source.http.HTTPSource

    def lowers(self, chain: tuple[str, ...]) -> list[Path]:
        """Return the layer folders of ``chain`` top-most first, as overlay wants them."""
        return [self.store.layer_path(layer_id) for layer_id in reversed(chain)]

    @contextmanager
    def writable(self, chain: tuple[str, ...]) -> Iterator["WritableTree"]:
        """Mount ``chain`` writable for the body of the ``with``.

        When the body sets ``tree.keep``, the changes are committed as a new
        layer after unmounting and ``tree.result`` holds the new chain;
        otherwise (or when the body raises) they are deleted.
        """
        scratch = self.store.make_temp_dir("tree-")
        upper = scratch / "upper"
        work = scratch / "work"
        upper.mkdir()
        work.mkdir()
        tree = WritableTree(chain, upper, scratch)
        try:
            with self.snapshotter.prepare(self.lowers(chain), upper, work) as mounted:
                tree.path = Path(mounted)
                yield tree
            tree.path = None
            if tree.keep:
                tree.result = chain + (self.store.commit_layer(upper),)
        finally:
            tree.path = None
            remove_tree(scratch)

    @contextmanager
    def readonly(self, chain: tuple[str, ...]) -> Iterator[Path]:
        """Mount ``chain`` read-only for the body of the ``with``."""
        with self.snapshotter.view(self.lowers(chain)) as mounted:
            yield Path(mounted)


@dataclass
class WritableTree:
    """A mounted, writable snapshot: ``path`` while mounted, ``upper`` for the diff."""

    chain: tuple[str, ...]
    upper: Path
    scratch: Path
    path: Path | None = None
    keep: bool = False
    result: tuple[str, ...] | None = None
