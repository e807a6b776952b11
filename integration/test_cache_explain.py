"""``--explain-cache``: why each step missed, compared with its last build."""

from __future__ import annotations

import re

import pytest
from cache_support import Project

EXPLAINED = """\
FROM busybox:1.36
COPY src/ /src/
ARG REV=1
RUN --mount=type=secret,id=token echo build $REV > /rev
RUN echo {command} > /last
"""


@pytest.fixture(scope="module")
def explained(run_minikit, base_image, tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("explain"), run_minikit)
    project.write("Dockerfile", EXPLAINED.format(command="first"))
    for name in ("a.txt", "b.txt", "c.txt"):
        project.write(f"src/{name}", name)
    secret = project.folder / "token"
    secret.write_text("explain-secret-value")
    project.build("--secret", f"id=token,src={secret}")
    return project, secret


def _explain(project: Project, secret, *flags: str) -> str:
    result, _ = project.build(
        "--explain-cache", "--secret", f"id=token,src={secret}", *flags
    )
    return result.stderr


@pytest.fixture(scope="module")
def file_changed(explained):
    project, secret = explained
    project.write("src/b.txt", "changed")
    return _explain(project, secret)


def test_names_the_changed_file(file_changed):
    assert "  - files changed: /src/b.txt\n" in file_changed


def test_later_step_names_the_earlier_one(file_changed):
    pattern = r"^  - an earlier step changed: \[.*2/4\] COPY src/ /src/$"
    assert re.search(pattern, file_changed, re.MULTILINE)


def test_names_the_changed_build_arg(explained):
    project, secret = explained
    text = _explain(project, secret, "--build-arg", "REV=2")
    assert "  - build arg or env value changed: REV\n" in text


def test_names_the_changed_command(explained):
    project, secret = explained
    project.write("Dockerfile", EXPLAINED.format(command="second"))
    text = _explain(project, secret, "--build-arg", "REV=2")
    assert "  - command changed: was /bin/sh -c echo first > /last\n" in text


def test_arg_names_itself_in_every_later_run(explained):
    project, secret = explained
    text = _explain(project, secret, "--build-arg", "REV=3")
    assert text.count("  - build arg or env value changed: REV\n") == 2


def test_hits_are_not_explained(explained):
    project, secret = explained
    text = _explain(project, secret, "--build-arg", "REV=3")
    assert "cache miss:" not in text


def test_secret_value_never_printed(explained):
    project, secret = explained
    secret.write_text("another-secret-value")
    text = _explain(project, secret, "--no-cache")
    assert "secret-value" not in text


def test_no_cache_is_the_reason(explained):
    project, secret = explained
    text = _explain(project, secret, "--no-cache")
    assert "the cache is disabled for this step (--no-cache" in text
