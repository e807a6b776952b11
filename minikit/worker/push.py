"""``-o type=image,name=REF,push=true``: push the image to a registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikit.errors import UsageError
from minikit.oci.reference import Reference
from minikit.worker.build import internal_step
from minikit.worker.request import BuildRequest, OutputSpec

if TYPE_CHECKING:
    from minikit.worker.build import Worker


def push_image(
    worker: "Worker",
    request: BuildRequest,
    services: Any,
    output: OutputSpec,
    image: Any,
) -> None:
    """Upload the layers, config and manifest of ``image`` under every name."""
    from minikit.registry import RegistryClient, load_config

    names = [name for name in output.attr("name").split(",") if name] or list(
        request.tags
    )
    if not names:
        raise UsageError(
            "output type=image needs name=REF (or -t REF)",
            hint="write -o type=image,name=REF,push=true",
        )
    push = output.type == "registry" or output.attr("push", "false").lower() == "true"
    if not push:
        raise UsageError(
            "output type=image without push=true has nowhere to store the image (there is no image store)",
            hint="add push=true to push it to a registry, or use type=oci or type=docker with dest=FILE",
        )
    client = RegistryClient(load_config(request.config_path))
    oci = output.attr("oci-mediatypes", "true").lower() != "false"
    from minikit.exporter import with_media_types

    final = with_media_types(image, oci_media_types=oci)
    for name in names:
        reference = Reference.parse(name)
        with internal_step(worker.progress, f"pushing {reference}"):
            _push_blobs(client, reference, final)
            client.put_manifest(
                reference, final.manifest_bytes, final.manifest.media_type
            )


def _push_blobs(client: Any, reference: Reference, image: Any) -> None:
    for layer in image.layers:
        if not client.blob_exists(reference, layer.descriptor.digest):
            path = layer.path
            client.upload_blob(
                reference,
                layer.descriptor.digest,
                layer.descriptor.size,
                lambda p=path: open(p, "rb"),
            )
    config = image.config
    if not client.blob_exists(reference, config.digest):
        import io

        data = image.config_bytes
        client.upload_blob(
            reference, config.digest, config.size, lambda: io.BytesIO(data)
        )
