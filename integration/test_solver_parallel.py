"""The solver end to end: parallel stages, shared steps, failures and Ctrl-C."""

from __future__ import annotations

import signal

import pytest
from cache_support import BackgroundBuild, Project, leftovers, logged

FOUR_STAGES = """\
FROM busybox:1.36 AS base
RUN echo shared > /shared

FROM base AS a
RUN sleep 2 && echo a > /a
FROM base AS b
RUN sleep 2 && echo b > /b
FROM base AS c
RUN sleep 2 && echo c > /c
FROM base AS d
RUN sleep 2 && echo d > /d

FROM busybox:1.36
COPY --from=a /a /shared /out/
COPY --from=b /b /out/
COPY --from=c /c /out/
COPY --from=d /d /out/
"""


@pytest.fixture(scope="module")
def four(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("four-stages"), run_minikit)
    project.write("Dockerfile", FOUR_STAGES)
    out = project.folder / "out"
    _, events = project.build("-o", f"type=local,dest={out}")
    return project, events, out


def test_four_stages_overlap(four):
    spans = [four[1].span(f"RUN sleep 2 && echo {name}") for name in "abcd"]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_shared_step_runs_once(four):
    assert four[1].ran_runs().count("[base 2/2] RUN echo shared > /shared") == 1


def test_four_stages_output(four):
    assert sorted(p.name for p in (four[2] / "out").iterdir()) == [
        "a",
        "b",
        "c",
        "d",
        "shared",
    ]


def test_jobs_one_serialises(four):
    project = four[0]
    root = project.folder / "serial-root"
    _, events = project.build("--jobs", "1", root=root)
    spans = sorted(events.span(f"RUN sleep 2 && echo {name}") for name in "abcd")
    assert all(left[1] <= right[0] for left, right in zip(spans, spans[1:]))


FAILING = """\
FROM busybox:1.36 AS slow
RUN echo slow-started && sleep 301
FROM busybox:1.36 AS bad
RUN echo ok > /ok
RUN sleep 0.5 && exit 3
FROM busybox:1.36
COPY --from=slow / /slow
COPY --from=bad / /bad
"""


@pytest.fixture(scope="module")
def failed(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("failing"), run_minikit)
    project.write("Dockerfile", FAILING)
    result, events = project.build(check=False)
    return project, result, events


def test_failure_exits_non_zero(failed):
    assert failed[1].returncode == 1


def test_failure_names_the_step(failed):
    assert 'process "/bin/sh -c sleep 0.5 && exit 3"' in failed[1].stderr


def test_failure_cancels_the_running_sibling(failed):
    assert failed[2].completed("RUN echo slow-started")["cancelled"]


def test_failure_leaves_nothing_behind(failed):
    assert leftovers(str(failed[0].root)) + leftovers("sleep 301") == []


def test_completed_step_of_failed_build_is_cached(failed):
    project = failed[0]
    project.write("Dockerfile", "FROM busybox:1.36\nRUN echo ok > /ok\n")
    _, events = project.build()
    assert events.ran_runs() == []


INTERRUPTED = """\
FROM busybox:1.36
RUN echo first > /first
RUN echo interrupt-me && sleep 302
"""


@pytest.fixture(scope="module")
def interrupted(run_minikit, minikit_config, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("interrupted"), run_minikit)
    project.write("Dockerfile", INTERRUPTED)
    build = BackgroundBuild(project.args(), project.folder, minikit_config.env)
    build.wait_for(logged("interrupt-me"))
    build.signal(signal.SIGINT)
    status, stderr = build.finish()
    return project, status, stderr


def test_ctrl_c_exits_130(interrupted):
    assert interrupted[1] == 130


def test_ctrl_c_says_interrupted(interrupted):
    assert "interrupted" in interrupted[2]


def test_ctrl_c_leaves_nothing_behind(interrupted):
    assert leftovers(str(interrupted[0].root)) + leftovers("sleep 302") == []


def test_ctrl_c_keeps_completed_steps(interrupted):
    project = interrupted[0]
    project.write("Dockerfile", "FROM busybox:1.36\nRUN echo first > /first\n")
    _, events = project.build()
    assert events.ran_runs() == []
