"""Moving the cache between machines: a local folder, a registry, inline.

The "first machine" builds once and exports its cache. Each "second
machine" is a fresh ``--root`` that imports it. It must find every step in
the cache, run no RUN, and produce the same image.
"""

from __future__ import annotations

import json
import shutil

import pytest
from cache_support import Events, Project
from fixtures.oci_tools import read_oci_archive

SHARED = """\
FROM busybox:1.36 AS tools
RUN echo tool > /tool

FROM busybox:1.36
COPY app.txt /app.txt
RUN cat /app.txt > /copy
COPY --from=tools /tool /tool
RUN echo done > /done
"""
CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"


@pytest.fixture(scope="module")
def origin(run_minikit, base_image, tmp_path_factory, registry):
    """The first machine: one build exporting to a folder, the registry and inline."""
    project = Project(tmp_path_factory.mktemp("share"), run_minikit)
    project.write("Dockerfile", SHARED)
    project.write("app.txt", "app\n")
    out = project.folder / "origin.tar"
    folder = project.folder / "cache-dir"
    ref = f"{registry.host}/cache/share:buildcache"
    image = f"{registry.host}/app/share:1"
    project.build(
        "--cache-to",
        f"type=local,dest={folder},mode=max",
        "--cache-to",
        f"type=registry,ref={ref},mode=max",
        "--cache-to",
        "type=inline",
        "-o",
        f"type=oci,dest={out}",
        "-o",
        f"type=image,name={image},push=true",
    )
    return project, read_oci_archive(out), folder, ref, image


def _second_machine(origin, name: str, *cache_from: str):
    project = origin[0]
    out = project.folder / f"{name}.tar"
    flags = [item for value in cache_from for item in ("--cache-from", value)]
    _, events = project.build(
        *flags, "-o", f"type=oci,dest={out}", root=project.folder / f"root-{name}"
    )
    return events, read_oci_archive(out)


@pytest.fixture(scope="module")
def from_folder(origin):
    return _second_machine(origin, "folder", f"type=local,src={origin[2]}")


@pytest.fixture(scope="module")
def from_registry(origin):
    return _second_machine(origin, "registry", f"type=registry,ref={origin[3]}")


@pytest.fixture(scope="module")
def from_inline(origin):
    return _second_machine(origin, "inline", f"type=registry,ref={origin[4]}")


def test_folder_is_an_oci_layout(origin):
    index = json.loads((origin[2] / "index.json").read_text())
    manifest_hex = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((origin[2] / "blobs" / "sha256" / manifest_hex).read_text())
    assert manifest["config"]["mediaType"] == CACHE_CONFIG


def test_folder_runs_no_run(from_folder):
    assert from_folder[0].ran_runs() == []


def test_folder_caches_every_step(from_folder):
    assert len([n for n in from_folder[0].cached() if "] RUN " in n]) == 3


def test_folder_same_layers(origin, from_folder):
    assert [layer.digest for layer in from_folder[1].layers] == [
        layer.digest for layer in origin[1].layers
    ]


def test_registry_runs_no_run(from_registry):
    assert from_registry[0].ran_runs() == []


def test_registry_same_layers(origin, from_registry):
    assert [layer.digest for layer in from_registry[1].layers] == [
        layer.digest for layer in origin[1].layers
    ]


def test_inline_key_in_image_config(origin):
    assert "moby.buildkit.cache.v0" in origin[1].config


def test_inline_runs_no_run_of_the_final_stage(from_inline):
    assert from_inline[0].ran_runs() == []


def test_inline_same_files(origin, from_inline):
    assert from_inline[1].file("done").content == origin[1].file("done").content


def test_changed_file_misses_only_later_steps(origin):
    project = origin[0]
    project.write("app.txt", "changed\n")
    try:
        _, events = project.build(
            "--cache-from",
            f"type=local,src={origin[2]}",
            root=project.folder / "root-changed",
        )
    finally:
        project.write("app.txt", "app\n")
    assert events.ran_runs() == [
        "[stage-1 3/5] RUN cat /app.txt > /copy",
        "[stage-1 5/5] RUN echo done > /done",
    ]


def test_missing_cache_folder_only_warns(origin):
    project = origin[0]
    missing = project.folder / "no-such-cache"
    result, _ = project.build(
        "--cache-from", f"type=local,src={missing}", root=project.folder / "root-none"
    )
    assert "failed to import the cache" in result.stderr


def test_bad_cache_mode_is_a_usage_error(origin):
    project = origin[0]
    dest = project.folder / "bad-mode"
    result, _ = project.build(
        "--cache-to", f"type=local,dest={dest},mode=all", check=False
    )
    assert result.returncode == 2
    assert "invalid cache mode 'all'" in result.stderr


@pytest.mark.rootless
def test_rootless_machine_imports_the_folder(origin, rootless_minikit):
    workspace = rootless_minikit.make_dir(rootless_minikit.workspace / "cache-share")
    context = workspace / "context"
    shutil.copytree(origin[0].context, context)
    shutil.copytree(origin[2], workspace / "cache")
    rootless_minikit.give(workspace)
    flags = [
        "--progress=rawjson",
        "--cache-from",
        f"type=local,src={workspace / 'cache'}",
    ]
    result = rootless_minikit(["build", *flags, str(context)], cwd=workspace)
    assert Events.parse(result.stderr).ran_runs() == []
