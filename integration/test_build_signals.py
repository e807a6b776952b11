"""SIGTERM and SIGHUP stop a running build as cleanly as Ctrl-C does."""

from __future__ import annotations

import signal

import pytest
from cache_support import BackgroundBuild, Events, Project, logged, wait_for_leftovers

SLEEPING = """\
FROM busybox:1.36
RUN echo first > /first
RUN echo stop-me-{name} && sleep 303
"""


@pytest.fixture(scope="module", params=[signal.SIGTERM, signal.SIGHUP], ids=str)
def stopped(request, run_minikit, minikit_config, base_image, tmp_path_factory):
    signum = request.param
    name = signal.Signals(signum).name.lower()
    project = Project(tmp_path_factory.mktemp(f"stopped-{name}"), run_minikit)
    project.write("Dockerfile", SLEEPING.format(name=name))
    build = BackgroundBuild(project.args(), project.folder, minikit_config.env)
    build.wait_for(logged(f"stop-me-{name}"))
    build.signal(signum)
    status, stderr = build.finish()
    return project, signum, status, stderr


def test_exit_status_is_128_plus_signal(stopped):
    _, signum, status, _ = stopped
    assert status == 128 + signum


def test_report_names_the_signal(stopped):
    _, signum, _, stderr = stopped
    assert f"build interrupted by {signal.Signals(signum).name}" in stderr


def test_running_step_is_cancelled(stopped):
    stderr = stopped[3]
    assert Events.parse(stderr).completed("RUN echo stop-me")["cancelled"]


def test_no_traceback(stopped):
    assert "Traceback" not in stopped[3]


def test_nothing_left_behind(stopped):
    project = stopped[0]
    assert wait_for_leftovers(str(project.root)) + wait_for_leftovers("sleep 303") == []


def test_completed_steps_stay_cached(stopped):
    project = stopped[0]
    project.write("Dockerfile", "FROM busybox:1.36\nRUN echo first > /first\n")
    _, events = project.build()
    assert events.ran_runs() == []
