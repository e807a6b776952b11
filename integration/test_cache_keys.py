"""What a cache key is made of, seen through ``minikit build``.

COPY is keyed on the selected files' names, modes and contents, not on
their mtimes or owners. A RUN is keyed on its command and environment, and
secrets never count. ``--no-cache`` and ``--no-cache-filter`` turn the cache off.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cache_support import Project

CASES = Path(__file__).resolve().parent / "cases"
ARG_CASE = CASES / "arg-change-invalidates-later-runs"


@pytest.fixture(scope="module")
def arg_case(run_minikit, base_image, tmp_path_factory):
    """The four builds of the case, in one store; returns the output folders."""
    project = Project(tmp_path_factory.mktemp("arg-case"), run_minikit)
    shutil.copy(ARG_CASE / "Dockerfile", project.context / "Dockerfile")
    runs = [
        ("o1", ["--build-arg", "REV=1"]),
        ("o2", ["--build-arg", "REV=2"]),
        ("o3", ["--build-arg", "REV=2"]),
        ("o4", ["--build-arg", "REV=2", "--build-arg", "UNUSED_NO_VALUE=x"]),
    ]
    outputs = {}
    for name, flags in runs:
        out = project.folder / name
        project.build(*flags, "-o", f"type=local,dest={out}")
        outputs[name] = out
    return outputs


def _read(outputs, name, file):
    return (outputs[name] / file).read_text()


def test_run_before_arg_is_cached(arg_case):
    assert _read(arg_case, "o2", "r32-before.txt") == _read(
        arg_case, "o1", "r32-before.txt"
    )


def test_run_after_arg_reruns(arg_case):
    assert _read(arg_case, "o2", "r32-after.txt") != _read(
        arg_case, "o1", "r32-after.txt"
    )


def test_later_run_reruns_too(arg_case):
    assert _read(arg_case, "o2", "r32-after-unused.txt") != _read(
        arg_case, "o1", "r32-after-unused.txt"
    )


@pytest.mark.parametrize(
    "file", ["r32-before.txt", "r32-after.txt", "r32-after-unused.txt"]
)
def test_same_args_are_fully_cached(arg_case, file):
    assert _read(arg_case, "o3", file) == _read(arg_case, "o2", file)


@pytest.mark.parametrize("file", ["r32-before.txt", "r32-after.txt"])
def test_arg_without_default_keeps_earlier_runs(arg_case, file):
    assert _read(arg_case, "o4", file) == _read(arg_case, "o3", file)


def test_arg_without_default_counts_once_set(arg_case):
    assert _read(arg_case, "o4", "r32-after-unused.txt") != _read(
        arg_case, "o3", "r32-after-unused.txt"
    )


COPY_FILE = """\
FROM busybox:1.36
COPY data.txt /data.txt
RUN cat /data.txt > /copied
"""


@pytest.fixture(scope="module")
def copy_project(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("copy-keys"), run_minikit)
    project.write("Dockerfile", COPY_FILE)
    project.write("data.txt", "one\n")
    project.build()
    return project


def _copy_cached(project: Project) -> bool:
    _, events = project.build()
    return any("COPY data.txt" in name for name in events.cached())


def test_copy_ignores_mtime(copy_project):
    path = copy_project.context / "data.txt"
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert _copy_cached(copy_project)


def test_copy_ignores_owner(copy_project):
    os.chown(copy_project.context / "data.txt", 4321, 4321)
    assert _copy_cached(copy_project)


def test_copy_follows_mode(copy_project):
    os.chmod(copy_project.context / "data.txt", 0o600)
    assert not _copy_cached(copy_project)


def test_copy_follows_content(copy_project):
    copy_project.write("data.txt", "two\n")
    assert not _copy_cached(copy_project)


def test_copy_of_unchanged_content_is_cached_again(copy_project):
    assert _copy_cached(copy_project)


ENV_AND_SECRET = """\
FROM busybox:1.36 AS other
RUN echo other > /other

FROM busybox:1.36 AS main
ENV LEVEL=1
RUN echo level > /level
RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /size
"""


@pytest.fixture(scope="module")
def env_project(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("env-keys"), run_minikit)
    project.write("Dockerfile", ENV_AND_SECRET)
    secret = project.folder / "token.txt"
    secret.write_text("first-secret-value")
    project.build("--secret", f"id=token,src={secret}")
    return project, secret


def test_secret_change_keeps_cache(env_project):
    project, secret = env_project
    secret.write_text("second-secret-value-that-is-longer")
    _, events = project.build("--secret", f"id=token,src={secret}")
    assert events.ran_runs() == []


def test_secret_never_in_store_database(env_project):
    project, _ = env_project
    data = b"".join(path.read_bytes() for path in project.root.glob("store.db*"))
    assert b"first-secret-value" not in data


def test_env_change_reruns(env_project):
    project, secret = env_project
    project.write("Dockerfile", ENV_AND_SECRET.replace("LEVEL=1", "LEVEL=2"))
    _, events = project.build("--secret", f"id=token,src={secret}")
    assert events.ran_runs() == [
        "[main 2/3] RUN echo level > /level",
        "[main 3/3] RUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /size",
    ]


def test_no_cache_reruns_everything(env_project):
    project, secret = env_project
    _, events = project.build("--no-cache", "--secret", f"id=token,src={secret}")
    assert len(events.ran_runs()) == 2


def test_no_cache_filter_reruns_only_that_stage(env_project):
    project, _ = env_project
    project.build("--target", "other")
    _, events = project.build("--target", "other", "--no-cache-filter", "other")
    assert events.ran_runs() == ["[other 2/2] RUN echo other > /other"]


def test_no_cache_filter_of_another_stage_keeps_cache(env_project):
    project, _ = env_project
    _, events = project.build("--target", "other", "--no-cache-filter", "main")
    assert events.ran_runs() == []
