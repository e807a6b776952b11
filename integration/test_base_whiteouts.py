"""A whiteout in an image's bottom layer hides nothing and must not break a build."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(busybox: Path) -> tuple[bytes, bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (
            ("bin/busybox", busybox.read_bytes(), 0o755),
            ("newdir/keep.txt", b"kept\n", 0o644),
            ("newdir/.wh.ghost", b"", 0o644),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tar.addfile(link)
    raw = buffer.getvalue()
    return raw, gzip.compress(raw, mtime=0)


def _push_image(layout: Path, registry: str, oci_tools, busybox: Path) -> str:
    raw, compressed = _layer(busybox)
    layer = _blob(layout, compressed)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
    }
    config_desc = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    manifest_desc = _blob(layout, json.dumps(manifest).encode())
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_desc,
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    reference = f"{registry}/library/ghost:1"
    subprocess.run(
        [str(oci_tools.skopeo), "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:1", f"docker://{reference}"],
        check=True,
        capture_output=True,
    )
    return reference


def test_bottom_layer_whiteout_is_ignored(run_minikit, base_image, registry, oci_tools, tmp_path):
    reference = _push_image(tmp_path / "layout", registry.host, oci_tools, Path(base_image.busybox))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {reference}\nRUN ls /newdir > /listing.txt\n")
    out = tmp_path / "out"
    run_minikit(["build", "--network=none", "-o", f"type=local,dest={out}", str(context)], cwd=tmp_path)
    assert (out / "listing.txt").read_text() == "keep.txt\n"
    assert sorted(p.name for p in (out / "newdir").iterdir()) == ["keep.txt"]
