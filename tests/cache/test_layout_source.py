"""``oci-layout://`` references: parsing, tag lookup and platform choice."""

import json
from pathlib import Path

import pytest

from minikit.errors import SolveError
from minikit.oci.spec import Platform
from minikit.source.ocilayout import LayoutRef, resolve_layout
from minikit.util.digest import canonical_json, sha256_digest


@pytest.mark.parametrize(
    ("text", "path", "tag", "digest"),
    [
        ("oci-layout:///srv/img:1.2", "/srv/img", "1.2", ""),
        ("/srv/img", "/srv/img", "", ""),
        ("/srv/a:b/img", "/srv/a:b/img", "", ""),
        ("/srv/img@sha256:" + "a" * 64, "/srv/img", "", "sha256:" + "a" * 64),
    ],
)
def test_parse(text, path, tag, digest):
    assert LayoutRef.parse(text) == LayoutRef(Path(path), tag, digest)


def _blob(root: Path, document: dict) -> str:
    data = canonical_json(document)
    digest = sha256_digest(data)
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    return digest


def _layout(root: Path, tag: str = "v1", architecture: str = "amd64") -> str:
    config = _blob(
        root, {"architecture": architecture, "os": "linux", "config": {"Env": ["A=1"]}}
    )
    manifest = {
        "schemaVersion": 2,
        "config": {"digest": config, "size": 1, "mediaType": "x"},
        "layers": [],
    }
    digest = _blob(root, manifest)
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": 1,
        "annotations": {"org.opencontainers.image.ref.name": tag},
        "platform": {"architecture": architecture, "os": "linux"},
    }
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [entry]})
    )
    return digest


def test_resolve_by_tag(tmp_path):
    digest = _layout(tmp_path)
    image = resolve_layout(f"{tmp_path}:v1", Platform("linux", "amd64"))
    assert image.manifest_digest == digest


def test_resolve_pins_by_digest(tmp_path):
    digest = _layout(tmp_path)
    image = resolve_layout(f"{tmp_path}:v1", Platform("linux", "amd64"))
    assert str(image.pinned) == f"oci-layout://{tmp_path}@{digest}"


def test_resolve_reads_config(tmp_path):
    _layout(tmp_path)
    image = resolve_layout(str(tmp_path), Platform("linux", "amd64"))
    assert image.config["config"]["Env"] == ["A=1"]


def test_unknown_tag(tmp_path):
    _layout(tmp_path)
    with pytest.raises(SolveError, match="no image tagged 'v2'"):
        resolve_layout(f"{tmp_path}:v2", Platform("linux", "amd64"))


def test_missing_folder(tmp_path):
    with pytest.raises(SolveError, match="failed to read the image"):
        resolve_layout(f"{tmp_path}/none:v1", Platform("linux", "amd64"))
