"""The OCI layout exporter, read back by skopeo and umoci."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from minikit.errors import ExportError
from minikit.exporter import export_oci
from minikit.oci import spec

from .support import (
    CONFIG,
    ImageFixture,
    run_tool,
    skopeo_json,
    tar_file,
    tar_members,
    umoci_unpack,
)

NAMES = ["registry.example/team/app:v1", "app:latest"]


@pytest.fixture
def oci_tar(built: ImageFixture) -> Path:
    dest = built.folder / "out" / "image.tar"
    export_oci(built.image, dest, names=NAMES)
    return dest


def test_skopeo_reads_oci_tar(built: ImageFixture, oci_tar: Path) -> None:
    info = skopeo_json(f"oci-archive:{oci_tar}:v1")

    assert info["Digest"] == built.image.manifest.digest
    assert info["Architecture"] == "amd64"
    assert info["Os"] == "linux"
    assert info["Layers"] == [layer.descriptor.digest for layer in built.layers]
    assert info["Env"] == CONFIG["config"]["Env"]
    assert info["Labels"] == {"org.example.kind": "test"}


def test_skopeo_reads_config(built: ImageFixture, oci_tar: Path) -> None:
    config = skopeo_json("--config", f"oci-archive:{oci_tar}:v1")

    assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in built.layers]
    assert config["config"]["Entrypoint"] == ["/bin/tool"]


def test_skopeo_copies_exact_manifest(built: ImageFixture, oci_tar: Path) -> None:
    target = built.folder / "copied"
    run_tool(
        "skopeo",
        "--insecure-policy",
        "copy",
        f"oci-archive:{oci_tar}:v1",
        f"dir:{target}",
    )

    assert (target / "manifest.json").read_bytes() == built.image.manifest_bytes
    for layer in built.layers:
        copied = target / layer.descriptor.digest.removeprefix("sha256:")
        assert copied.read_bytes() == layer.path.read_bytes()


def test_umoci_unpacks_files(built: ImageFixture, oci_tar: Path) -> None:
    layout = built.folder / "layout"
    with tarfile.open(oci_tar) as tar:
        tar.extractall(layout, filter="data")
    rootfs = umoci_unpack(layout, "v1", built.folder / "bundle")

    assert (rootfs / "etc" / "motd").read_bytes() == b"top motd\n"
    assert not (rootfs / "etc" / "removed").exists()
    assert os.readlink(rootfs / "etc" / "motd-link") == "motd"
    assert os.stat(rootfs / "bin" / "tool").st_mode & 0o777 == 0o755
    runtime = json.loads((built.folder / "bundle" / "config.json").read_text())
    assert runtime["process"]["args"] == ["/bin/tool", "--flag"]
    assert runtime["process"]["cwd"] == "/work"
    assert "GREETING=hello" in runtime["process"]["env"]


def test_index_names_images(built: ImageFixture, oci_tar: Path) -> None:
    index = json.loads(tar_file(oci_tar, "index.json"))

    assert index["mediaType"] == spec.OCI_INDEX
    annotations = [entry["annotations"] for entry in index["manifests"]]
    assert annotations == [
        {
            "io.containerd.image.name": "registry.example/team/app:v1",
            "org.opencontainers.image.ref.name": "v1",
        },
        {
            "io.containerd.image.name": "docker.io/library/app:latest",
            "org.opencontainers.image.ref.name": "latest",
        },
    ]
    assert {entry["digest"] for entry in index["manifests"]} == {
        built.image.manifest.digest
    }
    assert index["manifests"][0]["platform"] == {"architecture": "amd64", "os": "linux"}


def test_digest_name_has_no_ref_name(built: ImageFixture) -> None:
    out = io.BytesIO()
    export_oci(built.image, out, names=["app@sha256:" + "a" * 64])
    entry = json.loads(tar_file(out.getvalue(), "index.json"))["manifests"][0]

    assert entry["annotations"] == {
        "io.containerd.image.name": "docker.io/library/app@sha256:" + "a" * 64
    }


def test_oci_tar_entries_are_fixed(built: ImageFixture, oci_tar: Path) -> None:
    members = tar_members(oci_tar)
    blob_names = sorted(
        {f"blobs/sha256/{d.removeprefix('sha256:')}" for d in _all_digests(built)}
    )

    assert list(members) == [
        "blobs",
        "blobs/sha256",
        *blob_names,
        "index.json",
        "oci-layout",
    ]
    for member in members.values():
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0), member.name
        assert (member.uname, member.gname) == ("", ""), member.name
    assert json.loads(tar_file(oci_tar, "oci-layout")) == {
        "imageLayoutVersion": "1.0.0"
    }


def _all_digests(built: ImageFixture) -> list[str]:
    digests = [built.image.config.digest, built.image.manifest.digest]
    return digests + [layer.descriptor.digest for layer in built.layers]


def test_oci_export_is_reproducible(built: ImageFixture, oci_tar: Path) -> None:
    stream = io.BytesIO()
    export_oci(built.image, stream, names=NAMES)

    assert stream.getvalue() == oci_tar.read_bytes()


def test_oci_folder_layout(built: ImageFixture) -> None:
    layout = built.folder / "layout-folder"
    export_oci(built.image, layout, names=["app:v2"], tar=False)

    info = skopeo_json(f"oci:{layout}:v2")
    assert info["Digest"] == built.image.manifest.digest
    assert sorted(os.listdir(layout)) == ["blobs", "index.json", "oci-layout"]
    leftovers = [
        name
        for name in os.listdir(layout / "blobs" / "sha256")
        if name.endswith(".tmp")
    ]
    assert leftovers == []


def test_folder_layout_needs_path(built: ImageFixture) -> None:
    with pytest.raises(ExportError, match="cannot be written to a stream"):
        export_oci(built.image, io.BytesIO(), tar=False)


def test_corrupt_blob_leaves_no_file(built: ImageFixture) -> None:
    layer = built.layers[0]
    layer.path.write_bytes(b"x" * layer.descriptor.size)
    dest = built.folder / "out" / "broken.tar"

    with pytest.raises(ExportError, match="has digest"):
        export_oci(built.image, dest)

    assert not dest.exists()
    assert os.listdir(dest.parent) == []


def test_size_mismatch_is_reported(built: ImageFixture) -> None:
    layer = built.layers[0]
    wrong = dataclasses.replace(layer.descriptor, size=layer.descriptor.size + 1)
    image = dataclasses.replace(
        built.image,
        layers=(dataclasses.replace(layer, descriptor=wrong), built.layers[1]),
    )

    with pytest.raises(ExportError, match="descriptor"):
        export_oci(image, built.folder / "out.tar")


def test_invalid_name_is_rejected(built: ImageFixture) -> None:
    with pytest.raises(ExportError, match="invalid image name 'Bad Name'"):
        export_oci(built.image, io.BytesIO(), names=["Bad Name"])
