"""Image config and history through ``minikit build``, as BuildKit records them.

Ported from BuildKit's exported-history tests: each instruction adds its
``created_by`` string (``# buildkit`` on the ones with a layer), ``WORKDIR /``
and the metadata instructions mark ``empty_layer``, RUN lists the stage's
ARGs as ``|N k=v``, and the config fields carry every instruction's value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.oci_tools import ImageContents, read_oci_archive

DOCKERFILE = """\
FROM busybox:1.36
ENV foo=bar
ARG empty arg=value
LABEL org.example.k=v other="two words"
WORKDIR /
WORKDIR /app
COPY --chmod=0640 a.txt b.txt ./
RUN echo $foo > /run.txt
USER nobody
EXPOSE 5000 1234/udp 2375
VOLUME ["/data"]
STOPSIGNAL SIGKILL
SHELL ["/bin/sh", "-ec"]
CMD echo hi
ENTRYPOINT ["/bin/true"]
HEALTHCHECK --interval=1s --timeout=10s --start-period=3s --start-interval=100ms \\
    --retries=5 CMD true
MAINTAINER someone@example.com
ONBUILD RUN echo later
"""

HISTORY = [
    ("ENV foo=bar", True),
    ("ARG empty arg=value", True),
    ("LABEL org.example.k=v other=two words", True),
    ("WORKDIR /", True),
    ("WORKDIR /app", False),
    ("COPY --chmod=0640 a.txt b.txt ./ # buildkit", False),
    ("RUN |2 empty= arg=value /bin/sh -c echo $foo > /run.txt # buildkit", False),
    ("USER nobody", True),
    ("EXPOSE [1234/udp 2375/tcp 5000/tcp]", True),
    ("VOLUME [/data]", True),
    ("STOPSIGNAL SIGKILL", True),
    ("SHELL [/bin/sh -ec]", True),
    ('CMD ["/bin/sh" "-ec" "echo hi"]', True),
    ('ENTRYPOINT ["/bin/true"]', True),
    (
        (
            "HEALTHCHECK {Test:[CMD-SHELL true] Interval:1s Timeout:10s "
            "StartPeriod:3s StartInterval:100ms Retries:5}"
        ),
        True,
    ),
    ("MAINTAINER someone@example.com", True),
]


@pytest.fixture(scope="module")
def image(run_minikit, base_image, tmp_path_factory) -> ImageContents:
    folder = tmp_path_factory.mktemp("history")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "a.txt").write_text("a\n")
    (folder / "b.txt").write_text("b\n")
    run_minikit(["build", "-o", "type=oci,dest=out.tar", "."], cwd=folder)
    return read_oci_archive(Path(folder / "out.tar"))


def _own(image: ImageContents) -> list[dict]:
    return [e for e in image.history if e.get("comment") == "buildkit.dockerfile.v0"]


def test_history_created_by(image):
    assert [entry["created_by"] for entry in _own(image)] == [
        text for text, _empty in HISTORY
    ]


@pytest.mark.parametrize(("text", "empty"), HISTORY)
def test_history_empty_layer(image, text, empty):
    entry = next(e for e in _own(image) if e["created_by"] == text)
    assert bool(entry.get("empty_layer")) == empty


def test_history_matches_layers(image):
    non_empty = [entry for entry in image.history if not entry.get("empty_layer")]
    assert len(non_empty) == len(image.layers)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WorkingDir", "/app"),
        ("User", "nobody"),
        ("ExposedPorts", {"1234/udp": {}, "2375/tcp": {}, "5000/tcp": {}}),
        ("Volumes", {"/data": {}}),
        ("StopSignal", "SIGKILL"),
        ("Shell", ["/bin/sh", "-ec"]),
        ("Entrypoint", ["/bin/true"]),
        ("Cmd", ["/bin/sh", "-ec", "echo hi"]),
        ("Labels", {"org.example.k": "v", "other": "two words"}),
        ("OnBuild", ["RUN echo later"]),
        (
            "Healthcheck",
            {
                "Test": ["CMD-SHELL", "true"],
                "Interval": 1_000_000_000,
                "Timeout": 10_000_000_000,
                "StartPeriod": 3_000_000_000,
                "StartInterval": 100_000_000,
                "Retries": 5,
            },
        ),
    ],
)
def test_config_field(image, key, value):
    assert image.config["config"].get(key) == value


def test_config_env_keeps_path(image):
    env = image.config["config"]["Env"]
    assert env[-1] == "foo=bar"
    assert any(item.startswith("PATH=") for item in env)


def test_config_author(image):
    assert image.config["author"] == "someone@example.com"


def test_copy_chmod_applied(image):
    files = image.filesystem()
    assert files["app/a.txt"].permissions == 0o640
    assert files["app/b.txt"].permissions == 0o640
