"""The build graph without building (``debug dump-llb``), and oci-layout sources."""

from __future__ import annotations

import json
import subprocess

import pytest
from cache_support import Project
from fixtures.tools import require_tool

STAGES = """\
FROM busybox:1.36 AS builder
RUN echo built > /built

FROM busybox:1.36
COPY --from=builder /built /built
RUN cat /built
"""


@pytest.fixture(scope="module")
def graph(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("graph"), run_minikit)
    project.write("Dockerfile", STAGES)
    return project


def _dump(project: Project, run_minikit, *flags: str) -> str:
    args = [
        "debug",
        "dump-llb",
        "--root",
        str(project.root),
        *flags,
        str(project.context),
    ]
    return run_minikit(args, cwd=project.folder).stdout


@pytest.fixture(scope="module")
def dumped(graph, run_minikit):
    return json.loads(_dump(graph, run_minikit))


def test_json_lists_ops_inputs_first(dumped):
    seen: set[str] = set()
    for entry in dumped["ops"]:
        assert {edge["digest"] for edge in entry["op"]["inputs"]} <= seen
        seen.add(entry["digest"])


def test_json_head_is_the_last_op(dumped):
    assert dumped["head"]["digest"] == dumped["ops"][-1]["digest"]


def test_json_names_the_stages(dumped):
    stages = {entry["metadata"].get("stage") for entry in dumped["ops"]}
    assert {"builder", "stage-1"} <= stages


def test_dump_runs_nothing(graph, dumped):
    assert not (graph.root / "l").exists() or list((graph.root / "l").iterdir()) == []


def test_build_args_change_the_graph(graph, run_minikit, dumped):
    graph.write("Dockerfile", STAGES.replace("echo built", "echo $V"))
    try:
        other = json.loads(_dump(graph, run_minikit, "--build-arg", "V=x"))
    finally:
        graph.write("Dockerfile", STAGES)
    assert other["head"] != dumped["head"]


@pytest.fixture(scope="module")
def dot_text(graph, run_minikit):
    return _dump(graph, run_minikit, "--format", "dot")


def test_dot_has_a_cluster_per_stage(dot_text):
    assert dot_text.count("subgraph cluster_") == 2


def test_dot_renders_with_graphviz(dot_text):
    dot = require_tool("dot")
    svg = subprocess.run(
        [str(dot), "-Tsvg"], input=dot_text, capture_output=True, text=True, check=True
    ).stdout
    assert "builder" in svg
    assert "RUN echo built" in svg


LAYOUT = """\
FROM base
RUN echo from-layout > /from-layout
FROM busybox:1.36
COPY --from=tools /etc/passwd /copied-passwd
COPY --from=0 /from-layout /from-layout
"""


@pytest.fixture(scope="module")
def layout_build(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("layout"), run_minikit)
    project.write("Dockerfile", LAYOUT)
    out = project.folder / "out"
    _, events = project.build(
        "--build-context",
        f"base={base_image.layout_ref('1.36')}",
        "--build-context",
        f"tools={base_image.layout_ref('latest')}",
        "-o",
        f"type=local,dest={out}",
    )
    return out, events


def test_layout_as_from(layout_build):
    assert (layout_build[0] / "from-layout").read_text() == "from-layout\n"


def test_layout_as_copy_from(layout_build):
    assert "user:x:1000" in (layout_build[0] / "copied-passwd").read_text()


def test_layout_is_pinned_by_digest(run_minikit, base_image, tmp_path):
    project = Project(tmp_path, run_minikit)
    project.write("Dockerfile", "FROM base\n")
    flag = f"base={base_image.layout_ref('1.36')}"
    dumped = json.loads(_dump(project, run_minikit, "--build-context", flag))
    identifiers = [entry["op"].get("identifier", "") for entry in dumped["ops"]]
    assert identifiers == [
        f"oci-layout://{base_image.layout}@{base_image.manifest_digest}"
    ]


def test_layout_missing_tag_fails(run_minikit, base_image, tmp_path):
    project = Project(tmp_path, run_minikit)
    project.write("Dockerfile", "FROM base\n")
    flag = f"base=oci-layout://{base_image.layout}:no-such-tag"
    result, _ = project.build("--build-context", flag, check=False)
    assert "no image tagged 'no-such-tag'" in result.stderr
