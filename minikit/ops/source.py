"""Source ops: images, local folders, Git repositories and HTTP downloads.

Image sources arrive pinned by digest from the frontend. Git and HTTP
sources are pinned here, when the cache key is computed: the commit a ref
names, or the digest of the downloaded file, is the key.
"""

from __future__ import annotations

from typing import Any

from minikit.cache.store import remove_tree
from minikit.errors import SolveError
from minikit.llb import OpMetadata, SourceOp
from minikit.oci.reference import Reference
from minikit.oci.spec import Platform
from minikit.ops.services import OpServices
from minikit.solver.types import LocalResult, Result, RunContext, SnapshotResult
from minikit.util.digest import digest_of

IMAGE_SCHEME = "docker-image://"
OCI_LAYOUT_SCHEME = "oci-layout://"
LOCAL_SCHEME = "local://"
GIT_SCHEME = "git://"
HTTP_SCHEMES = ("https://", "http://")


class SourceOpImpl:
    """Runs a ``SourceOp`` by its scheme."""

    def __init__(self, op: SourceOp, metadata: OpMetadata, services: OpServices) -> None:
        self.op = op
        self.metadata = metadata
        self.services = services
        self._pinned: Any = None
        self._download: Any = None

    def cache_base(self) -> str:
        """Return the digest of what the source pins to."""
        identifier = self.op.identifier
        if identifier.startswith(GIT_SCHEME):
            pinned = self._pin_git()
            return digest_of(
                {
                    "git": pinned.commit,
                    "subdir": pinned.ref.subdir,
                    "keep_git_dir": self._keep_git_dir(),
                    "submodules": pinned.ref.submodules,
                }
            )
        if identifier.startswith(HTTP_SCHEMES):
            download = self._fetch_http()
            return digest_of({"http": download.digest, "filename": download.filename})
        return digest_of(self.op.to_dict())

    def content_key(self, index: int, result: Result) -> str | None:
        """Return None: sources have no inputs."""
        return None

    def explain(self) -> dict[str, Any]:
        """Return the pinned identity."""
        if self._pinned is not None:
            return {"base": f"{self.op.identifier}@{self._pinned.commit}"}
        if self._download is not None:
            return {"base": f"{self.op.identifier}@{self._download.digest}"}
        return {"base": self.op.identifier}

    def run(self, ctx: RunContext, inputs: list[Result]) -> Result:
        """Fetch the source and return its result."""
        identifier = self.op.identifier
        if identifier.startswith(IMAGE_SCHEME):
            return self._image(ctx)
        if identifier.startswith(OCI_LAYOUT_SCHEME):
            return self._layout(ctx)
        if identifier.startswith(LOCAL_SCHEME):
            return self._local()
        if identifier.startswith(GIT_SCHEME):
            return self._git()
        if identifier.startswith(HTTP_SCHEMES):
            return self._http()
        raise SolveError(f"unsupported source {identifier!r}")

    def _image(self, ctx: RunContext) -> Result:
        reference = Reference.parse(self.op.identifier[len(IMAGE_SCHEME) :])
        platform_text = self.op.attr("image.platform")
        platform = Platform.parse(platform_text) if platform_text else self.services.platform

        def status(item: str, done: int, total: int | None, completed: bool) -> None:
            ctx.status(item, done, total, completed)

        return SnapshotResult(self.services.images.pull(reference, platform, status))

    def _layout(self, ctx: RunContext) -> Result:
        from minikit.source.ocilayout import pull_layout, resolve_layout

        platform_text = self.op.attr("image.platform")
        platform = Platform.parse(platform_text) if platform_text else self.services.platform
        image = resolve_layout(self.op.identifier, platform)
        apply_layer = self.services.images.apply_layer
        return SnapshotResult(pull_layout(image, self.services.store, apply_layer, ctx.status))

    def _local(self) -> Result:
        name = self.op.identifier[len(LOCAL_SCHEME) :]
        root = self.services.session.local_dirs.get(name)
        if root is None:
            raise SolveError(f"no local folder named {name!r} was given to this build")
        return LocalResult(root=root, name=name)

    # -- Git --------------------------------------------------------------

    def _git_source(self) -> Any:
        if self.services.git is None:
            raise SolveError("Git sources are not available in this build")
        return self.services.git

    def _keep_git_dir(self) -> bool:
        return self.op.attr("git.keepgitdir") == "true"

    def _pin_git(self) -> Any:
        if self._pinned is None:
            from minikit.source.gitref import parse_git_ref

            ref = parse_git_ref(self.op.attr("git.url"))
            self._pinned = self._git_source().pin(ref)
        return self._pinned

    def _git(self) -> Result:
        pinned = self._pin_git()
        store = self.services.store
        staged = store.make_temp_dir("git-")
        try:
            target = staged / "diff"
            target.mkdir()
            self._git_source().fetch(pinned, target, self._keep_git_dir())
            layer_id = store.commit_layer(target)
        finally:
            remove_tree(staged)
        return SnapshotResult((layer_id,))

    # -- HTTP -------------------------------------------------------------

    def _fetch_http(self) -> Any:
        if self._download is None:
            if self.services.http is None:
                raise SolveError("HTTP sources are not available in this build")
            self._download = self.services.http.download(self.op.identifier, self.op.attr("http.checksum"))
        return self._download

    def _http(self) -> Result:
        download = self._fetch_http()
        store = self.services.store
        staged = store.make_temp_dir("http-")
        try:
            target = staged / "diff"
            target.mkdir()
            self.services.http.place(download, target, int(self.op.attr("http.perm", "600"), 8))
            layer_id = store.commit_layer(target)
        finally:
            remove_tree(staged)
        return SnapshotResult((layer_id,))
