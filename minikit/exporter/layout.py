"""The OCI image layout: ``oci-layout``, ``index.json`` and ``blobs/sha256/``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from minikit.errors import ExportError
from minikit.exporter.image import BuiltImage
from minikit.exporter.output import LayoutSink
from minikit.oci import spec
from minikit.oci.reference import InvalidReference, Reference
from minikit.oci.spec import Descriptor
from minikit.util.digest import canonical_json, hex_of

OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_BYTES = canonical_json({"imageLayoutVersion": "1.0.0"})


def blob_name(digest: str) -> str:
    """Return the layout path of the blob with ``digest``."""
    try:
        return f"blobs/sha256/{hex_of(digest)}"
    except ValueError as error:
        raise ExportError(f"cannot export the blob {digest!r}: {error}") from error


def parse_names(names: Sequence[str]) -> list[Reference]:
    """Parse the ``name=`` values of an export, raising ExportError for invalid ones."""
    references = []
    for name in names:
        try:
            references.append(Reference.parse(name))
        except InvalidReference as error:
            raise ExportError(
                f"invalid image name {name!r}: {error}",
                hint="use a name such as registry.example/repo:tag",
            ) from error
    return references


def index_bytes(image: BuiltImage, references: Sequence[Reference]) -> bytes:
    """Return ``index.json`` with one manifest entry per name (one unnamed if none).

    Each entry carries ``io.containerd.image.name`` (the full name) and, when the
    name has a tag, ``org.opencontainers.image.ref.name`` (the tag), as BuildKit's
    OCI exporter writes them.
    """
    entries = [image.manifest.to_json()]
    if references:
        entries = [
            _named(image.manifest, reference).to_json() for reference in references
        ]
    document = {"schemaVersion": 2, "mediaType": spec.OCI_INDEX, "manifests": entries}
    return canonical_json(document)


def _named(manifest: Descriptor, reference: Reference) -> Descriptor:
    annotations = dict(manifest.annotations)
    annotations[spec.ANNOTATION_IMAGE_NAME] = str(reference)
    if reference.tag:
        annotations[spec.ANNOTATION_REF_NAME] = reference.tag
    return replace(manifest, annotations=tuple(sorted(annotations.items())))


def write_layout(
    sink: LayoutSink,
    image: BuiltImage,
    files: Mapping[str, bytes],
) -> None:
    """Write the image's blobs and ``files`` (top-level name to content) to ``sink``.

    Entries are written in sorted order, and a blob used twice is written once.
    """
    small: dict[str, bytes] = {
        blob_name(image.config.digest): image.config_bytes,
        blob_name(image.manifest.digest): image.manifest_bytes,
    }
    small.update(files)
    blobs: dict[str, tuple[Path, Descriptor]] = {}
    for layer in image.layers:
        blobs[blob_name(layer.descriptor.digest)] = (layer.path, layer.descriptor)
    sink.add_folder("blobs")
    sink.add_folder("blobs/sha256")
    for name in sorted(small.keys() | blobs.keys()):
        if name in blobs:
            path, descriptor = blobs[name]
            sink.add_blob(name, path, descriptor)
        else:
            sink.add_bytes(name, small[name])
