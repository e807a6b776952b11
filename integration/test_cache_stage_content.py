"""Steps that read files from a stage are keyed on those files, as in BuildKit.

A stage rebuilt with a new build arg but the same output files leaves a
``COPY --from`` of it, a ``RUN --mount=from=`` of it and every later step
cached. A change to the files themselves reruns them. The content keys
travel with an exported cache, so a second store gets the same hits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cache_support import Events, Project

DOCKERFILE = """\
FROM busybox:1.36 AS build
ARG REV
ARG DATA=same
RUN echo "rev $REV" > /rev.txt && mkdir /out && echo "$DATA" > /out/data
FROM busybox:1.36
COPY --from=build /out /app
RUN cat /proc/sys/kernel/random/uuid > /stamp
RUN --mount=from=build,source=/out,target=/in cat /in/data \\
    /proc/sys/kernel/random/uuid > /mounted
"""


class Builds:
    """Builds of one project, each with its output folder and events."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.events: dict[str, Events] = {}

    def run(self, name: str, *flags: str, root: Path | None = None) -> Events:
        out = self.project.folder / name
        output = ("-o", f"type=local,dest={out}")
        _, events = self.project.build(*flags, *output, root=root)
        self.events[name] = events
        return events

    def text(self, name: str, path: str) -> str:
        return (self.project.folder / name / path).read_text()


@pytest.fixture(scope="module")
def builds(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("stage-content"), run_minikit)
    project.write("Dockerfile", DOCKERFILE)
    result = Builds(project)
    cache = project.folder / "cache"
    result.run("first", "--build-arg", "REV=1")
    result.run("rev2", "--build-arg", "REV=2", "--cache-to", f"type=local,dest={cache}")
    result.run("again", "--build-arg", "REV=2")
    result.run("data", "--build-arg", "REV=2", "--build-arg", "DATA=other")
    # A second machine: its own store, with the cache that "rev2" exported.
    imported = ("--build-arg", "REV=3", "--cache-from", f"type=local,src={cache}")
    result.run("imported", *imported, root=project.folder / "other-root")
    return result


def test_only_stage_run_reruns(builds):
    ran = builds.events["rev2"].ran_runs()
    assert len(ran) == 1
    assert ran[0].startswith("[build 2/2] RUN echo")


def test_copy_from_stage_cached(builds):
    assert "COPY --from=build /out /app" in " ".join(builds.events["rev2"].cached())


def test_step_after_copy_cached(builds):
    assert builds.text("rev2", "stamp") == builds.text("first", "stamp")


def test_stage_bind_mount_cached(builds):
    assert builds.text("rev2", "mounted") == builds.text("first", "mounted")


def test_repeat_build_runs_nothing(builds):
    ran = builds.events["again"].ran()
    assert [name for name in ran if "] COPY" in name or "] RUN" in name] == []


def test_changed_files_rerun_copy(builds):
    assert builds.text("data", "app/data") == "other\n"


def test_changed_files_rerun_later_steps(builds):
    assert builds.text("data", "stamp") != builds.text("first", "stamp")


def test_changed_files_rerun_bind_step(builds):
    assert builds.text("data", "mounted").startswith("other\n")


def test_imported_cache_keeps_content_hits(builds):
    ran = builds.events["imported"].ran_runs()
    assert len(ran) == 1
    assert ran[0].startswith("[build 2/2] RUN echo")


def test_imported_cache_output_matches(builds):
    assert builds.text("imported", "stamp") == builds.text("first", "stamp")
