"""The cache manifest format: export records, read them back, import layers."""

import json
import tarfile
from pathlib import Path

import pytest

from minikit.cache.remote import (
    CACHE_CONFIG_MEDIA_TYPE,
    ExportRecord,
    LayerBlob,
    RemoteCache,
    cache_config,
    cache_manifest,
    inline_cache_value,
    parse_cache_config,
    parse_inline_cache,
    read_layout_manifest,
    records_of_manifest,
    select_records,
    write_cache_layout,
)
from minikit.cache.store import Store
from minikit.oci.spec import Descriptor
from minikit.util.digest import sha256_digest


def _blob(folder: Path, name: str) -> LayerBlob:
    data = name.encode() * 10
    path = folder / name
    path.write_bytes(data)
    descriptor = Descriptor(
        "application/vnd.oci.image.layer.v1.tar", sha256_digest(data), len(data)
    )
    return LayerBlob(descriptor, "sha256:" + "d" * 64, 1700000000.0, path)


@pytest.fixture
def blobs(tmp_path):
    return {name: _blob(tmp_path, name) for name in ("base", "run1", "run2", "other")}


RECORDS = [
    ExportRecord("sha256:k-base", (), ("base",)),
    ExportRecord("sha256:k-run1", ("sha256:k-base",), ("base", "run1")),
    ExportRecord("sha256:k-run2", ("sha256:k-run1",), ("base", "run1", "run2")),
    ExportRecord("sha256:k-other", ("sha256:k-base",), ("base", "other")),
]


def test_min_keeps_steps_of_the_result():
    chosen = select_records(RECORDS, ("base", "run1", "run2"), "min")
    assert [r.key for r in chosen] == [
        "sha256:k-base",
        "sha256:k-run1",
        "sha256:k-run2",
    ]


def test_max_keeps_every_step():
    assert len(select_records(RECORDS, ("base", "run1", "run2"), "max")) == 4


def test_empty_chain_is_not_exported():
    assert select_records([ExportRecord("k", (), ())], (), "max") == []


def test_layers_shared_between_chains(blobs):
    config = cache_config(RECORDS, blobs)
    assert [layer["blob"] for layer in config["layers"]].count(
        blobs["base"].descriptor.digest
    ) == 1


def test_inputs_link_records(blobs):
    config = cache_config(RECORDS, blobs)
    assert config["records"][2]["inputs"] == [[{"selector": "", "link": 1}]]


def test_config_round_trip(blobs):
    config = cache_config(RECORDS, blobs)
    descriptors = {blob.descriptor.digest: blob.descriptor for blob in blobs.values()}
    chains = parse_cache_config(json.loads(json.dumps(config)), descriptors)
    assert [ref.descriptor.digest for ref in chains["sha256:k-other"]] == [
        blobs["base"].descriptor.digest,
        blobs["other"].descriptor.digest,
    ]


def test_record_with_unknown_blob_is_dropped(blobs):
    config = cache_config(RECORDS, blobs)
    descriptors = {blobs["base"].descriptor.digest: blobs["base"].descriptor}
    assert set(parse_cache_config(config, descriptors)) == {"sha256:k-base"}


def test_parent_cycle_is_dropped():
    config = {
        "layers": [{"blob": "sha256:" + "a" * 64, "parent": 0}],
        "records": [{"digest": "k", "layers": [{"layer": 0}]}],
    }
    descriptor = Descriptor("x", "sha256:" + "a" * 64, 1)
    assert parse_cache_config(config, {descriptor.digest: descriptor}) == {}


def test_manifest_config_media_type(blobs):
    manifest = json.loads(cache_manifest(RECORDS, blobs).manifest)
    assert manifest["config"]["mediaType"] == CACHE_CONFIG_MEDIA_TYPE


def test_manifest_layers_carry_diff_ids(blobs):
    manifest = json.loads(cache_manifest(RECORDS, blobs).manifest)
    assert (
        manifest["layers"][0]["annotations"]["containerd.io/uncompressed"]
        == "sha256:" + "d" * 64
    )


def test_layout_round_trip(tmp_path, blobs):
    dest = tmp_path / "cache"
    write_cache_layout(dest, cache_manifest(RECORDS, blobs), "v1")
    manifest, layout = read_layout_manifest(dest, "v1")
    records = records_of_manifest(manifest, lambda d: layout.read(d.digest))
    assert set(records) == {r.key for r in RECORDS}


def test_layout_keeps_other_tags(tmp_path, blobs):
    dest = tmp_path / "cache"
    write_cache_layout(dest, cache_manifest(RECORDS[:1], blobs), "a")
    write_cache_layout(dest, cache_manifest(RECORDS, blobs), "b")
    index = json.loads((dest / "index.json").read_text())
    assert len(index["manifests"]) == 2


def test_layout_leaves_no_temporary_files(tmp_path, blobs):
    dest = tmp_path / "cache"
    write_cache_layout(dest, cache_manifest(RECORDS, blobs))
    names = [path.name for path in dest.rglob("*")]
    assert not [name for name in names if name.startswith(".")]


def test_missing_tag_is_an_error(tmp_path, blobs):
    dest = tmp_path / "cache"
    write_cache_layout(dest, cache_manifest(RECORDS, blobs))
    with pytest.raises(Exception, match="no manifest tagged 'nope'"):
        read_layout_manifest(dest, "nope")


def test_inline_round_trip(blobs):
    value = inline_cache_value(RECORDS[:2], blobs)
    layers = [blobs["base"].descriptor, blobs["run1"].descriptor]
    records = parse_inline_cache({"moby.buildkit.cache.v0": value}, layers)
    assert len(records["sha256:k-run1"]) == 2


def _layer_tar(folder: Path, name: str, content: bytes) -> LayerBlob:
    path = folder / f"{name}.tar"
    source = folder / name
    source.write_bytes(content)
    with tarfile.open(path, "w") as archive:
        archive.add(source, arcname=name)
    data = path.read_bytes()
    descriptor = Descriptor(
        "application/vnd.oci.image.layer.v1.tar", sha256_digest(data), len(data)
    )
    return LayerBlob(descriptor, sha256_digest(data), 1700000000.0, path)


def test_import_unpacks_layers(tmp_path):
    from minikit.snapshot import apply_layer_tar

    blob = _layer_tar(tmp_path, "hello", b"hi\n")
    dest = tmp_path / "cache"
    write_cache_layout(
        dest, cache_manifest([ExportRecord("k", (), ("l1",))], {"l1": blob})
    )
    manifest, layout = read_layout_manifest(dest)
    store = Store(tmp_path / "root")
    cache = RemoteCache(
        "test",
        store,
        records_of_manifest(manifest, lambda d: layout.read(d.digest)),
        layout,
        apply_layer_tar,
    )
    chain = cache.load("k")
    assert (store.layer_path(chain[0]) / "hello").read_bytes() == b"hi\n"


def test_import_of_corrupt_blob_is_a_miss(tmp_path):
    from minikit.snapshot import apply_layer_tar

    blob = _layer_tar(tmp_path, "hello", b"hi\n")
    dest = tmp_path / "cache"
    write_cache_layout(
        dest, cache_manifest([ExportRecord("k", (), ("l1",))], {"l1": blob})
    )
    (dest / "blobs" / "sha256" / blob.descriptor.digest[7:]).write_bytes(b"broken")
    manifest, layout = read_layout_manifest(dest)
    warnings = []
    store = Store(tmp_path / "root")
    cache = RemoteCache(
        "test",
        store,
        records_of_manifest(manifest, lambda d: layout.read(d.digest)),
        layout,
        apply_layer_tar,
        on_warning=warnings.append,
    )
    assert cache.load("k") is None
    assert "corrupt" in warnings[0]
