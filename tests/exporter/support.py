"""Exporter test helpers: a two-layer image, and runners for skopeo and umoci."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minikit.exporter import BuiltImage, LayerBlob
from minikit.oci.spec import Descriptor
from minikit.snapshot import write_layer_tar

EPOCH = 1_700_000_000
TOOL_TIMEOUT_SECONDS = 120

CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2023-11-14T22:13:20Z",
    "config": {
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hello"],
        "Entrypoint": ["/bin/tool"],
        "Cmd": ["--flag"],
        "WorkingDir": "/work",
        "Labels": {"org.example.kind": "test"},
    },
    "history": [
        {"created": "2023-11-14T22:13:20Z", "created_by": "COPY . / # buildkit"},
        {"created": "2023-11-14T22:13:20Z", "created_by": "RUN change # buildkit"},
    ],
}


@dataclass(frozen=True)
class ImageFixture:
    """An image and the layer blobs it was built from."""

    image: BuiltImage
    layers: list[LayerBlob]
    folder: Path


def make_layers(folder: Path) -> tuple[Path, Path]:
    bottom, top = folder / "bottom", folder / "top"
    (bottom / "bin").mkdir(parents=True)
    (bottom / "etc").mkdir()
    (bottom / "work").mkdir()
    (bottom / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(bottom / "bin" / "tool", 0o755)
    (bottom / "etc" / "motd").write_bytes(b"bottom motd\n")
    (bottom / "etc" / "removed").write_bytes(b"to be removed\n")
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "motd").write_bytes(b"top motd\n")
    os.mknod(top / "etc" / "removed", stat.S_IFCHR, os.makedev(0, 0))
    os.symlink("motd", top / "etc" / "motd-link")
    return bottom, top


def blob_for(diff_dir: Path, blobs: Path) -> LayerBlob:
    out = io.BytesIO()
    info = write_layer_tar(diff_dir, out, source_date_epoch=EPOCH)
    path = blobs / info.digest.removeprefix("sha256:")
    path.write_bytes(out.getvalue())
    descriptor = Descriptor(info.media_type, info.digest, info.size)
    return LayerBlob(path=path, descriptor=descriptor, diff_id=info.diff_id)


def require_tool(name: str) -> str:
    """Return the path of ``name`` or skip the test."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {name})")
    return path


def run_tool(*command: str) -> str:
    """Run an independent reader such as skopeo and return its stdout."""
    require_tool(command[0])
    completed = subprocess.run(
        list(command), capture_output=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return completed.stdout.decode()


def skopeo_json(*arguments: str) -> Any:
    """Run ``skopeo inspect`` with ``arguments`` and parse its JSON output."""
    return json.loads(run_tool("skopeo", "--insecure-policy", "inspect", *arguments))


def tar_members(path_or_bytes: Path | bytes) -> dict[str, tarfile.TarInfo]:
    """List every entry of a tar by name."""
    data = (
        path_or_bytes
        if isinstance(path_or_bytes, bytes)
        else path_or_bytes.read_bytes()
    )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {member.name: member for member in tar.getmembers()}


def tar_file(path_or_bytes: Path | bytes, name: str) -> bytes:
    """Return the content of the entry ``name`` of a tar."""
    data = (
        path_or_bytes
        if isinstance(path_or_bytes, bytes)
        else path_or_bytes.read_bytes()
    )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        member = tar.extractfile(name)
        assert member is not None, name
        return member.read()


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """Unpack ``layout:tag`` with umoci and return the bundle's rootfs."""
    command = ["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)]
    if os.geteuid() != 0:
        command.insert(2, "--rootless")
    run_tool(*command)
    return bundle / "rootfs"
