"""A Git repository as the build context: checked out on the host side first.

The repository is fetched like an ``ADD`` of a Git URL (pinned, shallow,
with submodules unless ``?submodules=false``) into a temporary folder under
``--root``, which then serves as the local context. As in BuildKit, no
``.dockerignore`` applies to a remote context, and a relative ``-f`` names
a file inside the checkout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from minikit.cache.store import remove_tree
from minikit.worker.build import internal_step

if TYPE_CHECKING:
    from minikit.worker.build import Worker
    from minikit.worker.request import BuildRequest

KEEP_GIT_DIR_ARG = "BUILDKIT_CONTEXT_KEEP_GIT_DIR"


def checkout_git_context(worker: Worker, request: BuildRequest) -> Path:
    """Fetch ``request.context_url`` and return the folder holding the checkout."""
    from minikit.session.secrets import SecretStore
    from minikit.source.git import GitSource, scrub_git_environment
    from minikit.source.gitref import parse_git_ref
    from minikit.util.redact import redact_url

    store = worker.store
    assert store is not None
    ref = parse_git_ref(request.context_url)
    keep = ref.keep_git_dir
    if keep is None:
        keep = request.build_args.get(KEEP_GIT_DIR_ARG, "").lower() in ("1", "true")
    scrub_git_environment()
    secrets = SecretStore.load(request.secrets, request.cwd)
    forwarder = _forwarder(request) if ref.is_ssh else None
    folder = store.make_temp_dir("git-context-")
    worker.cleanups.append(lambda: remove_tree(folder))
    checkout = folder / "context"
    checkout.mkdir()
    name = f"[internal] load git source {redact_url(ref.remote)}"
    try:
        with internal_step(worker.progress, name):
            source = GitSource(secrets, forwarder, store.tmp_dir)
            source.fetch(source.pin(ref), checkout, keep)
    finally:
        if forwarder is not None:
            forwarder.close()
    if request.dockerfile is not None and not request.dockerfile.is_absolute():
        request.dockerfile = checkout / request.dockerfile
    return checkout


def _forwarder(request: BuildRequest) -> object | None:
    if not request.ssh:
        return None
    from minikit.session.ssh import SSHForwarder

    return SSHForwarder.from_specs(request.ssh)
