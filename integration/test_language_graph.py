"""The build graph through ``minikit build``: targets, --from, mounts, build contexts.

``--target`` builds only the stages the target needs. ``COPY --from`` takes a
stage name (any case), a stage index or an image; ``RUN --mount=from=`` takes
a stage or an image. ``--build-context NAME=PATH|docker-image://REF``
replaces a stage or an image of that name. Step names follow BuildKit's
``[stage i/n] TEXT`` with the stage's variables expanded.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

DOCKERFILE = """\
FROM busybox:1.36 AS Builder
RUN echo built > /built.txt

FROM busybox:1.36 AS broken
RUN exit 1

FROM no-such-image-anywhere:1 AS missing
RUN true

FROM busybox:1.36 AS replaced
RUN echo from-stage > /which.txt

FROM alpine:3 AS viaimage
RUN echo via-image > /via.txt

FROM busybox:1.36
ARG GREETING=hello
COPY --from=builder /built.txt /by-name.txt
COPY --from=0 /built.txt /by-index.txt
COPY --from=busybox:1.36 /bin/busybox /by-image
RUN --mount=from=builder,source=/built.txt,target=/m/built.txt \\
    cat /m/built.txt > /mounted.txt
RUN --mount=from=busybox:1.36,target=/img \\
    test -x /img/bin/busybox && echo ok > /mounted-image.txt
COPY --from=replaced /which.txt /replaced.txt
COPY --from=viaimage /via.txt /via.txt
COPY --from=extra /extra.txt /extra.txt
RUN --mount=from=extra,target=/e cat /e/extra.txt > /mounted-extra.txt
RUN echo $GREETING > /greeting.txt
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("graph")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "replacement").mkdir()
    (folder / "replacement" / "which.txt").write_text("from-context\n")
    (folder / "extra").mkdir()
    (folder / "extra" / "extra.txt").write_text("extra\n")
    return folder


@pytest.fixture(scope="module")
def built(run_minikit, base_image, folder) -> subprocess.CompletedProcess[str]:
    return run_minikit(
        [
            "build", "--progress=plain",
            "--build-context", "replaced=./replacement",
            "--build-context", "extra=extra",
            "--build-context", "alpine:3=docker-image://busybox:1.36",
            "-o", "type=local,dest=out", ".",
        ],
        cwd=folder,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("by-name.txt", "built\n"),
        ("by-index.txt", "built\n"),
        ("mounted.txt", "built\n"),
        ("mounted-image.txt", "ok\n"),
        ("replaced.txt", "from-context\n"),
        ("via.txt", "via-image\n"),
        ("extra.txt", "extra\n"),
        ("mounted-extra.txt", "extra\n"),
        ("greeting.txt", "hello\n"),
    ],
)
def test_graph_files(built, folder, name, content):
    assert (folder / "out" / name).read_text() == content


def test_copy_from_image(built, folder):
    assert (folder / "out" / "by-image").stat().st_size > 100_000


def test_unneeded_stages_not_built(built):
    assert "exit 1" not in built.stderr
    assert "no-such-image-anywhere" not in built.stderr


def test_replaced_stage_not_run(built):
    assert "from-stage" not in built.stderr


def _steps(stderr: str) -> list[str]:
    names = re.findall(r"^#\d+ (\[[^\]]*\d+/\d+\] .*)$", stderr, re.MULTILINE)
    return list(dict.fromkeys(names))


def test_step_names(built):
    steps = _steps(built.stderr)
    assert "[builder 2/2] RUN echo built > /built.txt" in steps
    assert "[stage-5  2/11] COPY --from=builder /built.txt /by-name.txt" in steps
    assert "[stage-5 11/11] RUN echo hello > /greeting.txt" in steps
    assert "[viaimage 2/2] RUN echo via-image > /via.txt" in steps


def test_step_name_joins_continuation(built):
    steps = _steps(built.stderr)
    assert (
        "[stage-5  5/11] RUN --mount=from=builder,source=/built.txt,"
        "target=/m/built.txt     cat /m/built.txt > /mounted.txt"
    ) in steps


def test_target_any_case(run_minikit, base_image, folder):
    run_minikit(
        ["build", "--target", "BUILDER", "-o", "type=local,dest=out-builder", "."],
        cwd=folder,
    )
    out = folder / "out-builder"
    assert (out / "built.txt").read_text() == "built\n"
    assert not (out / "by-name.txt").exists()


def test_target_broken_stage_fails(run_minikit, base_image, folder):
    result = run_minikit(["build", "--target", "broken", "."], cwd=folder, check=False)
    assert result.returncode != 0
    assert "exit code: 1" in result.stderr
