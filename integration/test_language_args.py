"""ARG and ENV through ``minikit build``, ported from BuildKit's args integration tests.

Covers global ARGs in FROM with a build-arg override, quoted defaults,
redeclared global ARGs, defaults that expand ENV and earlier ARGs, several
ARGs on one line, ``TARGETSTAGE``, the predefined platform ARGs, and proxy
build args that reach RUN without an ARG line but stay out of the image.
"""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from fixtures.oci_tools import read_oci_archive

DOCKERFILE = """\
ARG tag=nosuchtag
ARG a1=""
ARG a2="quoted value"
ARG base=busybox
FROM ${base}:${tag} AS first
ARG a1
ARG a2
ARG TARGETSTAGE
ENV FOO=from-env
ARG LOL=${FOO}
ARG x=1 y=$x z=${x}2
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH
RUN echo "a1=[$a1] a2=[$a2] lol=[$LOL] x=$x y=$y z=$z" > /args.txt \\
 && echo "stage=[$TARGETSTAGE]" > /stage.txt \\
 && echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT]" > /target.txt \\
 && echo "$BUILDPLATFORM $BUILDOS $BUILDARCH" > /build.txt \\
 && echo "proxy=[$HTTP_PROXY] lower=[$http_proxy] none=[$NO_PROXY]" > /proxy.txt
FROM first AS second
RUN echo "x=$x" > /second.txt
"""


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("args")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    return folder


@pytest.fixture(scope="module")
def built(run_minikit, base_image, folder) -> Path:
    run_minikit(
        [
            "build",
            "--build-arg", "tag=1.36",
            "--build-arg", "HTTP_PROXY=http://127.0.0.1:9",
            "-o", "type=local,dest=out",
            "-o", "type=oci,dest=out.tar",
            ".",
        ],
        cwd=folder,
    )  # fmt: skip
    return folder


def _read(folder: Path, name: str, out: str = "out") -> str:
    return (folder / out / name).read_text()


def test_global_arg_overridden(built):
    assert (built / "out" / "second.txt").is_file()


def test_arg_values(built):
    assert _read(built, "args.txt") == (
        "a1=[] a2=[quoted value] lol=[from-env] x=1 y=1 z=12\n"
    )


def test_arg_inherited_by_stage(built):
    assert _read(built, "second.txt") == "x=1\n"


def test_targetstage_is_last_stage(built):
    assert _read(built, "stage.txt") == "stage=[second]\n"


def test_target_platform_args(built):
    assert _read(built, "target.txt") == f"linux/{_arch()} linux {_arch()} []\n"


def test_build_platform_args(built):
    assert _read(built, "build.txt") == f"linux/{_arch()} linux {_arch()}\n"


def test_proxy_reaches_run(built):
    assert _read(built, "proxy.txt") == (
        "proxy=[http://127.0.0.1:9] lower=[http://127.0.0.1:9] none=[]\n"
    )


def test_proxy_not_in_history(built):
    image = read_oci_archive(built / "out.tar")
    created = [entry["created_by"] for entry in image.history]
    assert not any("127.0.0.1:9" in line for line in created)


def test_args_not_in_image_env(built):
    env = read_oci_archive(built / "out.tar").config["config"]["Env"]
    names = {item.partition("=")[0] for item in env}
    assert names == {"PATH", "FOO"}


def test_run_history_lists_args(built):
    image = read_oci_archive(built / "out.tar")
    runs = [e["created_by"] for e in image.history if e["created_by"].startswith("RUN")]
    assert runs[-1] == (
        "RUN |14 a1= a2=quoted value TARGETSTAGE=second LOL=from-env x=1 y=1 z=12 "
        f"TARGETPLATFORM=linux/{_arch()} TARGETOS=linux TARGETARCH={_arch()} "
        f"TARGETVARIANT= BUILDPLATFORM=linux/{_arch()} BUILDOS=linux "
        f'BUILDARCH={_arch()} /bin/sh -c echo "x=$x" > /second.txt # buildkit'
    )


def test_targetstage_with_target(run_minikit, base_image, folder):
    run_minikit(
        [
            "build", "--build-arg", "tag=1.36", "--target", "first",
            "-o", "type=local,dest=out-first", ".",
        ],
        cwd=folder,
    )  # fmt: skip
    assert _read(folder, "stage.txt", out="out-first") == "stage=[first]\n"
    assert not (folder / "out-first" / "second.txt").exists()


def test_global_arg_default_used(run_minikit, base_image, folder):
    result = run_minikit(["build", "--check", "."], cwd=folder, check=False)
    assert "nosuchtag" in result.stderr
    assert result.returncode != 0
