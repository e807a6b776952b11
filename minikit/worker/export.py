"""From the solved chain to outputs: layer blobs, image config, exporters."""

from __future__ import annotations

import copy
import datetime
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minikit.cache.store import remove_tree
from minikit.errors import ExportError, UsageError
from minikit.oci.spec import Descriptor
from minikit.progress import Warning as ProgressWarning
from minikit.worker.build import internal_step
from minikit.worker.leakguard import check_layers_for_secrets
from minikit.worker.request import BuildRequest, OutputSpec

if TYPE_CHECKING:
    from minikit.worker.build import Worker

log = logging.getLogger(__name__)

EXPORTER_COMMENT = "buildkit.exporter.image.v0"
# Root filesystem tars up to this many bytes are kept for the next export.
ROOTFS_CACHE_LIMIT = 256 * 1024 * 1024


def export_all(
    worker: "Worker", request: BuildRequest, services: Any, converted: Any, solved: Any
) -> tuple[str, str]:
    """Run every ``-o`` output; return (manifest digest, config digest), empty without an image."""
    chain = tuple(getattr(solved.result, "chain", ()))
    check_layers_for_secrets(worker, services, chain, request, solved, converted)
    outputs = request.outputs
    if not outputs:
        worker.progress.emit(
            ProgressWarning(
                "No output specified; the build result will only remain in the build cache. "
                "To write it somewhere, use -o type=oci,dest=FILE or another output"
            )
        )
    image = None
    if _needs_image(request):
        image = _assemble_image(worker, request, services, converted, solved, chain)
    for output in outputs:
        _export_one(worker, request, services, output, image, chain)
    if image is None:
        return "", ""
    return image.manifest.digest, image.config.digest


def exports_from_store(request: BuildRequest, store: Any, chain: tuple[str, ...]) -> bool:
    """Tell whether every output for ``chain`` is a copy of a file in the store.

    Such an export reads no layer, so it needs neither the build namespace
    nor a mount: a root filesystem tar that an earlier build kept.
    """
    if _needs_image(request) or any(output.type != "tar" for output in request.outputs):
        return False
    return store.get_artifact(_rootfs_tar_key(chain)) is not None


def _rootfs_tar_key(chain: tuple[str, ...]) -> str:
    from minikit.util.digest import digest_of

    return "rootfs-tar:" + digest_of(list(chain))


def _needs_image(request: BuildRequest) -> bool:
    """Tell whether an output needs layer blobs and an image config.

    Folder and root filesystem tar outputs do not, so a build that only
    writes those never compresses its layers.
    """
    if any(spec.type == "inline" for spec in request.cache_to):
        return True
    outputs = request.outputs
    return not outputs or any(output.type not in ("tar", "local") for output in outputs)


def _assemble_image(
    worker: "Worker",
    request: BuildRequest,
    services: Any,
    converted: Any,
    solved: Any,
    chain: tuple[str, ...],
) -> Any:
    from minikit.exporter import build_image

    epoch = _epoch(request)
    with internal_step(worker.progress, "exporting layers"):
        layers = _layer_blobs(worker, services, chain, epoch)
    config = _image_config(converted.image, worker, chain, epoch)
    if any(spec.type == "inline" for spec in request.cache_to):
        from minikit.worker.cache_io import inline_cache

        config.update(inline_cache(worker, request, solved, layers))
    return build_image(config, layers, oci_media_types=True)


def _epoch(request: BuildRequest) -> int | None:
    value = request.build_args.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else None


def _layer_blobs(
    worker: "Worker", services: Any, chain: tuple[str, ...], epoch: int | None
) -> list[Any]:
    from concurrent import futures

    jobs = max(1, min(4, os.cpu_count() or 1))
    with futures.ThreadPoolExecutor(
        max_workers=jobs, thread_name_prefix="export"
    ) as pool:
        tasks = [
            pool.submit(_layer_blob, services, chain, index, epoch)
            for index in range(len(chain))
        ]
        return [task.result() for task in tasks]


def _layer_blob(
    services: Any, chain: tuple[str, ...], index: int, epoch: int | None
) -> Any:
    from minikit.exporter import LayerBlob
    from minikit.snapshot import write_layer_tar

    store = services.store
    record = store.layer(chain[index])
    pulled = record.origin != "build"
    if (
        record.blob_digest
        and store.has_blob(record.blob_digest)
        and (pulled or epoch is None)
    ):
        descriptor = Descriptor(
            record.media_type or "", record.blob_digest, record.blob_size or 0
        )
        return LayerBlob(
            store.blob_path(record.blob_digest), descriptor, record.diff_id or ""
        )
    scratch = store.make_temp_dir("blob-")
    staged = scratch / "layer.tar.gz"
    lowers = services.lowers(chain[:index])
    try:
        with open(staged, "wb") as out:
            info = write_layer_tar(
                record.path, out, compression="gzip", source_date_epoch=epoch, lowers=lowers
            )
        path = store.commit_blob(staged, info.digest, info.size, info.media_type)
    finally:
        remove_tree(scratch)
    if epoch is None:
        store.set_layer_blob(
            record.id,
            diff_id=info.diff_id,
            blob_digest=info.digest,
            blob_size=info.size,
            media_type=info.media_type,
        )
    return LayerBlob(
        path, Descriptor(info.media_type, info.digest, info.size), info.diff_id
    )


def _rfc3339_nano(moment: float) -> str:
    stamp = datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}000Z"


def _image_config(
    image: dict[str, Any], worker: "Worker", chain: tuple[str, ...], epoch: int | None
) -> dict[str, Any]:
    """Fill in history times and make the history match the layers, as BuildKit's exporter does."""
    config = copy.deepcopy(image)
    history = config.setdefault("history", [])
    store = worker.store
    assert store is not None
    times = [store.layer(layer_id).created for layer_id in chain]
    non_empty = [entry for entry in history if not entry.get("empty_layer")]
    missing = len(chain) - len(non_empty)
    if missing > 0:
        extra = [
            {"created_by": "", "comment": EXPORTER_COMMENT} for _ in range(missing)
        ]
        config["history"] = history = extra + history
    layer_index = 0
    last_time = ""
    for entry in history:
        if not entry.get("empty_layer"):
            if layer_index < len(times) and "created" not in entry:
                moment = epoch if epoch is not None else times[layer_index]
                entry["created"] = _rfc3339_nano(moment)
            layer_index += 1
        elif "created" not in entry and last_time:
            entry["created"] = last_time
        last_time = entry.get("created", last_time)
    for entry in history:
        if "created" not in entry and last_time:
            entry["created"] = last_time
    if epoch is not None:
        config["created"] = _rfc3339_nano(epoch)
    elif last_time:
        config["created"] = last_time
    return config


def _export_one(
    worker: "Worker",
    request: BuildRequest,
    services: Any,
    output: OutputSpec,
    image: Any,
    chain: tuple[str, ...],
) -> None:
    kind = output.type
    if kind == "oci":
        _export_layout(worker, request, output, image, docker=False)
    elif kind == "docker":
        _export_layout(worker, request, output, image, docker=True)
    elif kind == "tar":
        _export_tree(worker, services, output, chain, as_tar=True)
    elif kind == "local":
        _export_tree(worker, services, output, chain, as_tar=False)
    elif kind in ("image", "registry"):
        from minikit.worker.push import push_image

        push_image(worker, request, services, output, image)
    else:
        raise UsageError(
            f"unsupported output type {kind!r}",
            hint="use oci, docker, tar, local or image",
        )


def _dest(output: OutputSpec) -> Path | Any:
    dest = output.attr("dest")
    if not dest:
        raise UsageError(
            f"output type={output.type} needs dest=PATH",
            hint=f"write -o type={output.type},dest=PATH",
        )
    if dest == "-":
        if sys.stdout.isatty():
            raise UsageError(
                "refusing to write the output to a terminal",
                hint="redirect standard output to a file, or give dest=PATH",
            )
        return sys.stdout.buffer
    return Path(dest)


def _names(request: BuildRequest, output: OutputSpec) -> list[str]:
    names = [name for name in output.attr("name").split(",") if name]
    return names or list(request.tags)


def _export_layout(
    worker: "Worker",
    request: BuildRequest,
    output: OutputSpec,
    image: Any,
    *,
    docker: bool,
) -> None:
    from minikit.exporter import export_docker_archive, export_oci, with_media_types

    dest = _dest(output)
    names = _names(request, output)
    label = (
        "exporting to docker image format"
        if docker
        else "exporting to oci image format"
    )
    with internal_step(worker.progress, label):
        oci_types = (
            output.attr("oci-mediatypes", "false" if docker else "true").lower()
            != "false"
        )
        final = with_media_types(image, oci_media_types=oci_types)
        if docker:
            export_docker_archive(final, dest, names=names)
        else:
            tar = output.attr("tar", "true").lower() != "false"
            export_oci(final, dest, names=names, tar=tar)


def _export_tree(
    worker: "Worker",
    services: Any,
    output: OutputSpec,
    chain: tuple[str, ...],
    *,
    as_tar: bool,
) -> None:
    dest = _dest(output)
    label = "exporting to client tarball" if as_tar else "exporting to client directory"
    with internal_step(worker.progress, label):
        if as_tar:
            _export_rootfs_tar(services, chain, dest)
            return
        if not isinstance(dest, Path):
            raise ExportError("type=local needs a folder as dest, not standard output")
        from minikit.exporter import export_local

        with services.readonly(chain) as root:
            export_local(root, dest, preserve_owner=not services.rootless)


def _export_rootfs_tar(services: Any, chain: tuple[str, ...], dest: Any) -> None:
    """Write the root filesystem tar, reusing the one an earlier build wrote for ``chain``.

    Layers never change once committed, so the tar of a chain is the same
    every time; tars up to ``ROOTFS_CACHE_LIMIT`` bytes are kept as blobs.
    """
    store = services.store
    key = _rootfs_tar_key(chain)
    cached = store.get_artifact(key)
    if cached is None:
        from minikit.exporter import export_rootfs_tar

        folder = store.make_temp_dir("rootfs-")
        try:
            staged = folder / "rootfs.tar"
            with services.readonly(chain) as root:
                export_rootfs_tar(root, staged)
            size = staged.stat().st_size
            if size > ROOTFS_CACHE_LIMIT:
                _move_or_copy(staged, dest)
                return
            digest = _file_digest(staged)
            cached = store.commit_blob(staged, digest, size, "application/x-tar")
            store.put_artifact(key, digest)
        finally:
            remove_tree(folder)
    _copy_file(cached, dest)


def _move_or_copy(source: Path, dest: Any) -> None:
    if isinstance(dest, Path):
        try:
            os.replace(source, dest)
            return
        except OSError:
            pass
    _copy_file(source, dest)


def _file_digest(path: Path) -> str:
    import hashlib

    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _copy_file(source: Path, dest: Any) -> None:
    """Copy ``source`` to a path (through a temporary name) or to a binary stream."""
    import shutil

    if not isinstance(dest, Path):
        with open(source, "rb") as handle:
            shutil.copyfileobj(handle, dest, 1 << 20)
        dest.flush()
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = dest.with_name(f".{dest.name}.minikit-{os.getpid()}")
    try:
        shutil.copyfile(source, staged)
        os.replace(staged, dest)
    finally:
        if staged.exists():
            staged.unlink()
