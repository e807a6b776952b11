"""The docker exporter: a docker-load tar with manifest.json and an OCI layout."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from minikit.exporter import export_docker_archive
from minikit.oci import spec

from .support import (
    ImageFixture,
    run_tool,
    skopeo_json,
    tar_file,
    tar_members,
    umoci_unpack,
)

NAMES = ["app:1.0", "ghcr.io/team/tool:edge", "app@sha256:" + "b" * 64]


@pytest.fixture
def archive(built: ImageFixture) -> Path:
    dest = built.folder / "docker.tar"
    export_docker_archive(built.image, dest, names=NAMES)
    return dest


def test_skopeo_reads_archive(built: ImageFixture, archive: Path) -> None:
    info = skopeo_json(f"docker-archive:{archive}:app:1.0")

    assert info["Name"] == "docker.io/library/app"
    assert info["Architecture"] == "amd64"
    assert info["Layers"] == [layer.diff_id for layer in built.layers]
    config = skopeo_json("--config", f"docker-archive:{archive}:ghcr.io/team/tool:edge")
    assert config["config"]["Cmd"] == ["--flag"]


def test_manifest_json_lists_tags(built: ImageFixture, archive: Path) -> None:
    manifest = json.loads(tar_file(archive, "manifest.json"))
    members = tar_members(archive)

    assert len(manifest) == 1
    entry = manifest[0]
    assert entry["RepoTags"] == ["app:1.0", "ghcr.io/team/tool:edge"]
    assert entry["Config"] == "blobs/sha256/" + built.image.config.digest.removeprefix(
        "sha256:"
    )
    assert entry["Layers"] == [
        "blobs/sha256/" + layer.descriptor.digest.removeprefix("sha256:")
        for layer in built.layers
    ]
    for name in [entry["Config"], *entry["Layers"]]:
        assert name in members


def test_archive_manifest_uses_docker_types(built: ImageFixture, archive: Path) -> None:
    index = json.loads(tar_file(archive, "index.json"))
    descriptor = index["manifests"][0]
    manifest = json.loads(tar_file(archive, "blobs/sha256/" + descriptor["digest"][7:]))

    assert descriptor["mediaType"] == spec.DOCKER_MANIFEST
    assert manifest["mediaType"] == spec.DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == spec.DOCKER_CONFIG
    assert manifest["config"]["digest"] == built.image.config.digest
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        spec.DOCKER_LAYER_GZIP
    }
    assert (
        descriptor["annotations"]["io.containerd.image.name"]
        == "docker.io/library/app:1.0"
    )
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == "1.0"


def test_repositories_for_old_loaders(built: ImageFixture, archive: Path) -> None:
    repositories = json.loads(tar_file(archive, "repositories"))
    top = built.layers[-1].descriptor.digest.removeprefix("sha256:")

    assert repositories == {"app": {"1.0": top}, "ghcr.io/team/tool": {"edge": top}}


def test_archive_without_names(built: ImageFixture) -> None:
    out = io.BytesIO()
    export_docker_archive(built.image, out)

    members = tar_members(out.getvalue())
    assert "repositories" not in members
    assert json.loads(tar_file(out.getvalue(), "manifest.json"))[0]["RepoTags"] == []


def test_archive_converts_to_oci(built: ImageFixture, archive: Path) -> None:
    layout = built.folder / "converted"
    run_tool(
        "skopeo",
        "--insecure-policy",
        "copy",
        f"docker-archive:{archive}:app:1.0",
        f"oci:{layout}:app",
    )
    rootfs = umoci_unpack(layout, "app", built.folder / "bundle")

    assert (rootfs / "etc" / "motd").read_bytes() == b"top motd\n"
    assert not (rootfs / "etc" / "removed").exists()


def test_archive_is_reproducible(built: ImageFixture, archive: Path) -> None:
    out = io.BytesIO()
    export_docker_archive(built.image, out, names=NAMES)

    assert out.getvalue() == archive.read_bytes()
    with tarfile.open(archive) as tar:
        assert all(member.mtime == 0 for member in tar.getmembers())
