"""The converter on its own: step names, history, args and errors, with no registry.

A fake resolver returns a fixed digest and config for every image lookup,
so each test converts a Dockerfile and reads the graph's metadata and the
image config it produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from minikit.errors import DockerfileError, MinikitError
from minikit.frontend.convert import Converter, ConvertOptions, NamedContext
from minikit.frontend.linter import Linter
from minikit.frontend.parser import parse
from minikit.llb import marshal
from minikit.oci.reference import Reference
from minikit.oci.spec import Platform

DIGEST = "sha256:" + "ab" * 32
BUSYBOX = f"docker.io/library/busybox:latest@{DIGEST}"
PLATFORM = Platform("linux", "amd64", "")


@dataclass
class Resolved:
    pinned: Reference
    config: dict[str, Any]


@dataclass
class FakeResolver:
    """Resolves every reference to ``DIGEST``; ``configs`` maps a name to a config."""

    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def resolve(self, reference: Reference, platform: Platform) -> Resolved:
        if str(reference) not in self.calls:
            self.calls.append(str(reference))
        config = self.configs.get(reference.familiar(), {"config": {"Cmd": ["sh"]}})
        return Resolved(reference.with_digest(DIGEST), config)


def convert(text: str, resolver: FakeResolver | None = None, **options: Any) -> Any:
    parsed = parse(text)
    linter = Linter(None, parsed.filename)
    convert_options = ConvertOptions(
        resolver=resolver or FakeResolver(),
        platform=PLATFORM,
        build_platform=PLATFORM,
        **options,
    )
    return Converter(parsed, convert_options, linter).convert()


def step_names(text: str, **options: Any) -> list[str]:
    result = convert(text, **options)
    definition = marshal(result.output)
    names = [
        definition.metadata[digest].description.get("llb.customname", "")
        for digest in definition.ops
    ]
    return [name for name in names if name.startswith("[") and "internal" not in name]


def history(text: str, **options: Any) -> list[str]:
    return [entry["created_by"] for entry in convert(text, **options).image["history"]]


def conversion_error(text: str, **options: Any) -> MinikitError:
    with pytest.raises(MinikitError) as caught:
        convert(text, **options)
    return caught.value


def warnings(text: str, rule: str, **options: Any) -> list[tuple[int, str]]:
    result = convert(text, **options)
    return [(w.line, w.message) for w in result.warnings if w.rule == rule]


# Step names -----------------------------------------------------------------


def test_names_single_stage() -> None:
    names = step_names("FROM busybox\nRUN echo hi\nENV A=b\nCOPY . .\n")
    assert names == [
        f"[1/3] FROM {BUSYBOX}",
        "[2/3] RUN echo hi",
        "[3/3] COPY . .",
    ]


def test_names_padded_index() -> None:
    text = "FROM busybox\n" + "".join(f"RUN echo {i}\n" for i in range(9))
    names = step_names(text)
    assert names[0] == f"[ 1/10] FROM {BUSYBOX}"
    assert names[-1] == "[10/10] RUN echo 8"


def test_names_multi_stage() -> None:
    names = step_names(
        "FROM busybox AS build\nRUN make\nFROM build\nRUN check\n"
        "FROM scratch\nCOPY --from=1 /a /a\n"
    )
    assert names == [
        f"[build 1/2] FROM {BUSYBOX}",
        "[build 2/2] RUN make",
        "[stage-1 1/1] RUN check",
        "[stage-2 1/1] COPY --from=1 /a /a",
    ]


def test_names_mount_adds_stage_name() -> None:
    names = step_names("FROM busybox\nRUN --mount=type=cache,target=/c make\n")
    assert names[-1] == "[stage-0 2/2] RUN --mount=type=cache,target=/c make"


def test_names_workdir_counted() -> None:
    names = step_names("FROM busybox\nWORKDIR /app\nUSER 1\nRUN x\n")
    assert names[1:] == ["[2/3] WORKDIR /app", "[3/3] RUN x"]


def test_run_name_expands_set_variables() -> None:
    names = step_names("FROM busybox\nARG X=1\nRUN echo $X ${UNSET} \"$X\" '$X'\n")
    assert names[-1] == "[2/2] RUN echo 1 ${UNSET} \"1\" '$X'"


def test_copy_name_expands_variables() -> None:
    names = step_names("FROM busybox\nENV D=/dest\nCOPY a $D/\n")
    assert names[-1] == "[2/2] COPY a /dest/"


def test_lowercase_keyword_uppercased() -> None:
    names = step_names("from busybox\nrun echo hi\n")
    assert names[-1] == "[2/2] RUN echo hi"


def test_lone_heredoc_summary() -> None:
    names = step_names("FROM busybox\nRUN <<EOF\necho a\necho b\nEOF\n")
    assert names[-1] == "[2/2] RUN <<EOF (echo a...)"


def test_onbuild_trigger_name() -> None:
    resolver = FakeResolver(
        {"busybox:latest": {"config": {"OnBuild": ["RUN echo trigger"]}}}
    )
    names = step_names("FROM busybox\nRUN echo own\n", resolver=resolver)
    assert names == [
        f"[1/3] FROM {BUSYBOX}",
        "[2/3] ONBUILD RUN echo trigger",
        "[3/3] RUN echo own",
    ]


def test_secret_env_masked_in_name() -> None:
    names = step_names(
        "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOKEN echo $TOKEN\n"
    )
    assert names[-1].endswith("echo ****")


def test_link_merge_name() -> None:
    result = convert("FROM busybox\nCOPY --link a /a\n")
    definition = marshal(result.output)
    names = [
        meta.description["llb.customname"] for meta in definition.metadata.values()
    ]
    assert "[2/2] LINK COPY --link a /a" in names


# History --------------------------------------------------------------------


EXPORTED = """\
FROM busybox
ENV foo=bar
ARG A B=2
LABEL k=v
WORKDIR /
WORKDIR /app
COPY --chown=1:2 --chmod=644 a b ./
RUN echo $foo
USER nobody
EXPOSE 5000 1234/udp 2375
VOLUME ["/data"]
STOPSIGNAL SIGKILL
SHELL ["/bin/sh", "-ec"]
CMD echo hi
ENTRYPOINT ["/bin/true"]
HEALTHCHECK --interval=1s --retries=5 CMD true
MAINTAINER me
"""


def test_history_created_by() -> None:
    assert history(EXPORTED) == [
        "ENV foo=bar",
        "ARG A B=2",
        "LABEL k=v",
        "WORKDIR /",
        "WORKDIR /app",
        "COPY --chown=1:2 --chmod=644 a b ./ # buildkit",
        "RUN |2 A= B=2 /bin/sh -c echo $foo # buildkit",
        "USER nobody",
        "EXPOSE [1234/udp 2375/tcp 5000/tcp]",
        "VOLUME [/data]",
        "STOPSIGNAL SIGKILL",
        "SHELL [/bin/sh -ec]",
        'CMD ["/bin/sh" "-ec" "echo hi"]',
        'ENTRYPOINT ["/bin/true"]',
        (
            "HEALTHCHECK {Test:[CMD-SHELL true] Interval:1s Timeout:0s StartPeriod:0s "
            "StartInterval:0s Retries:5}"
        ),
        "MAINTAINER me",
    ]


def test_history_empty_layers() -> None:
    entries = convert(EXPORTED).image["history"]
    layered = [e["created_by"].split()[0] for e in entries if not e.get("empty_layer")]
    assert layered == ["WORKDIR", "COPY", "RUN"]


def test_history_flattens_args() -> None:
    text = "FROM busybox\nARG foo=bar bar=123\nARG foo=bar2\nRUN ls /etc/\n"
    assert history(text)[-1] == "RUN |2 foo=bar2 bar=123 /bin/sh -c ls /etc/ # buildkit"


def test_history_inherits_base_stage_args() -> None:
    text = "FROM busybox AS a\nARG X=1\nFROM a\nRUN true\n"
    assert history(text)[-1] == "RUN |1 X=1 /bin/sh -c true # buildkit"


def test_history_env_shadows_arg() -> None:
    text = "FROM busybox\nARG X=1\nENV X=2\nRUN true\n"
    assert history(text)[-1] == "RUN |1 X=2 /bin/sh -c true # buildkit"


def test_history_copy_heredoc() -> None:
    text = "FROM busybox\nCOPY a <<EOF /dst/\nbody\nEOF\n"
    assert history(text)[-1] == "COPY a <<EOF /dst/ # buildkit"


def test_proxy_args_not_in_history() -> None:
    text = "FROM busybox\nRUN true\n"
    line = history(text, build_args={"HTTP_PROXY": "http://p"})[-1]
    assert line == "RUN /bin/sh -c true # buildkit"


# ARG and ENV scoping ------------------------------------------------------------


def _env_of_run(text: str, **options: Any) -> dict[str, str]:
    result = convert(text, **options)
    definition = marshal(result.output)
    op = definition.ops[definition.head.digest]  # type: ignore[union-attr]
    return dict(item.split("=", 1) for item in op.meta.env)


def test_meta_arg_only_in_from() -> None:
    env = _env_of_run("ARG V=1\nFROM busybox\nRUN true\n")
    assert "V" not in env


def test_meta_arg_redeclared() -> None:
    env = _env_of_run("ARG V=1\nFROM busybox\nARG V\nRUN true\n")
    assert env["V"] == "1"


def test_build_arg_beats_default() -> None:
    env = _env_of_run("FROM busybox\nARG V=1\nRUN true\n", build_args={"V": "9"})
    assert env["V"] == "9"


def test_arg_default_sees_previous_pair() -> None:
    env = _env_of_run("FROM busybox\nARG a=1 b=$a\nRUN true\n")
    assert env["b"] == "1"


def test_env_sees_old_value() -> None:
    env = _env_of_run("FROM busybox\nENV a=1\nENV a=2 b=$a\nRUN true\n")
    assert env["b"] == "1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TARGETPLATFORM", "linux/amd64"),
        ("TARGETOS", "linux"),
        ("TARGETARCH", "amd64"),
        ("TARGETVARIANT", ""),
        ("BUILDPLATFORM", "linux/amd64"),
        ("BUILDARCH", "amd64"),
        ("TARGETSTAGE", "default"),
    ],
)
def test_predefined_args(name: str, value: str) -> None:
    env = _env_of_run(f"FROM busybox\nARG {name}\nRUN true\n")
    assert env[name] == value


def test_predefined_arg_not_in_env_undeclared() -> None:
    env = _env_of_run("FROM busybox\nRUN true\n")
    assert "TARGETARCH" not in env


def test_args_not_in_image_env() -> None:
    result = convert("FROM busybox\nARG V=1\nENV E=2\n")
    assert result.image["config"]["Env"][-1] == "E=2"
    assert not any(item.startswith("V=") for item in result.image["config"]["Env"])


def test_from_uses_meta_arg() -> None:
    resolver = FakeResolver()
    convert("ARG TAG=1.36\nFROM busybox:$TAG\n", resolver)
    assert resolver.calls == ["docker.io/library/busybox:1.36"]


def test_source_date_epoch_from_meta_arg() -> None:
    result = convert("ARG SOURCE_DATE_EPOCH=86400\nFROM busybox\nENV A=1\n")
    assert result.image["history"][-1]["created"] == "1970-01-02T00:00:00Z"


def test_unused_build_arg_warning() -> None:
    found = warnings("FROM busybox\nARG USED\n", "UnusedBuildArgs", build_args={
        "USED": "1", "NOPE": "2", "HTTP_PROXY": "x",
    })  # fmt: skip
    assert found == [(0, "One or more build-args [NOPE] were not consumed")]


# Graph ------------------------------------------------------------------------


def test_target_skips_unneeded_stages() -> None:
    resolver = FakeResolver()
    convert(
        "FROM alpine AS unused\nFROM busybox AS wanted\nRUN true\nFROM debian\n",
        resolver,
        target="wanted",
    )
    assert resolver.calls == ["docker.io/library/busybox:latest"]


def test_unknown_target_suggests() -> None:
    error = conversion_error("FROM busybox AS build\n", target="biuld")
    assert str(error) == 'target stage "biuld" could not be found'
    assert error.hint == "did you mean build?"


def test_copy_from_image() -> None:
    resolver = FakeResolver()
    convert("FROM busybox\nCOPY --from=alpine:3 /etc/os-release /\n", resolver)
    assert "docker.io/library/alpine:3" in resolver.calls


def test_copy_from_later_stage() -> None:
    error = conversion_error(
        "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n", target="a"
    )
    assert 'cannot copy from stage "b"' in str(error)


def test_copy_from_bad_index() -> None:
    error = conversion_error("FROM busybox\nCOPY --from=7 /x /x\n")
    assert str(error) == "invalid stage index 7"


def test_build_context_replaces_image() -> None:
    resolver = FakeResolver()
    contexts = {"alpine": NamedContext("image", "busybox:1.36")}
    convert("FROM alpine:latest\nRUN true\n", resolver, named_contexts=contexts)
    assert resolver.calls == ["docker.io/library/busybox:1.36"]


def test_build_context_replaces_stage() -> None:
    resolver = FakeResolver()
    contexts = {"base": NamedContext("image", "busybox:1.36")}
    convert(
        "FROM alpine AS base\nRUN never\nFROM base\nRUN true\n",
        resolver,
        named_contexts=contexts,
    )
    assert resolver.calls == ["docker.io/library/busybox:1.36"]


# Errors -----------------------------------------------------------------------


def test_expansion_error_column() -> None:
    error = conversion_error("FROM busybox\nENV X=${Y:-z\n")
    assert error.location is not None
    assert (error.location.line, error.location.column) == (2, 7)
    assert error.hint


def test_required_message_with_blanks() -> None:
    error = conversion_error("FROM busybox\nARG Y\nENV X=${Y:?Y must be set}\n")
    assert "Y: Y must be set" in str(error)


def test_split_braces_still_rejected() -> None:
    error = conversion_error("FROM busybox\nENV X=${Y:-a b}\n")
    assert str(error).startswith('Syntax error - can\'t find = in "b}"')


def test_mount_from_variable_rejected() -> None:
    error = conversion_error("FROM busybox\nRUN --mount=from=$X,target=/x true\n")
    assert "'from' doesn't support variable expansion" in str(error)


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("FROM busybox\nRUN --mont=type=bind true\n", "unknown flag: --mont",
         "did you mean mount?"),
        ("FROM busybox\nRUN --mount=typ=bind true\n", "unexpected key 'typ'",
         "did you mean type?"),
        ("FROM busybox\nRUN --mount=type=tmp,target=/t true\n",
         'unsupported mount type "tmp"', "did you mean tmpfs?"),
    ],
)  # fmt: skip
def test_mount_suggestions(text: str, message: str, hint: str) -> None:
    error = conversion_error(text)
    assert message in str(error)
    assert error.hint == hint


def test_host_network_needs_entitlement() -> None:
    error = conversion_error("FROM busybox\nRUN --network=host true\n")
    assert "network.host" in str(error)


def test_device_flag_rejected() -> None:
    error = conversion_error("FROM busybox\nRUN --device=gpu true\n")
    assert "1.14.0-labs" in str(error)


def test_blank_base_name() -> None:
    error = conversion_error("ARG IMAGE\nFROM $IMAGE\n")
    assert str(error) == "base name ($IMAGE) should not be blank"
    assert error.location is not None
    assert error.location.column == 6


def test_invalid_port() -> None:
    error = conversion_error("FROM busybox\nEXPOSE 80/xyz\n")
    assert str(error) == "invalid proto: xyz"


def test_errors_are_dockerfile_errors() -> None:
    error = conversion_error("FROM busybox\nCOPY --chmod=999999 a /a\n")
    assert isinstance(error, DockerfileError)
    assert "invalid chmod parameter" in str(error)


# Lint rules reported by the converter ------------------------------------------


def test_undefined_var_suggests() -> None:
    found = warnings("FROM busybox\nENV COLOUR=1\nENV A=$COLOR\n", "UndefinedVar")
    assert found == [
        (3, "Usage of undefined variable '$COLOR' (did you mean $COLOUR?)")
    ]


def test_undefined_var_declared_arg_is_fine() -> None:
    assert warnings("FROM busybox\nARG V\nENV A=$V\n", "UndefinedVar") == []


def test_undefined_arg_in_from() -> None:
    found = warnings("ARG VERSION=1\nFROM ${VERSIOM:-busybox}\n", "UndefinedArgInFrom")
    assert found == [
        (2, "FROM argument 'VERSIOM' is not declared (did you mean VERSION?)")
    ]


def test_invalid_default_arg_in_from() -> None:
    found = warnings(
        "ARG IMAGE\nFROM $IMAGE\n", "InvalidDefaultArgInFrom", build_args={"IMAGE": "x"}
    )
    assert found == [
        (2, "Default value for ARG $IMAGE results in empty or invalid base image name")
    ]


# Forms and inherited triggers -----------------------------------------------


def _config(text: str, **options: Any) -> dict[str, Any]:
    return convert(text, **options).image["config"]


def test_invalid_json_falls_back_to_shell() -> None:
    assert _config("FROM busybox\nCMD [echo, hi]\n")["Cmd"] == [
        "/bin/sh",
        "-c",
        "[echo, hi]",
    ]


def test_empty_cmd_list() -> None:
    assert _config("FROM busybox\nCMD []\n")["Cmd"] == []


def test_empty_entrypoint_unsets() -> None:
    config = _config('FROM busybox\nENTRYPOINT ["a"]\nENTRYPOINT []\n')
    assert config["Entrypoint"] is None


def test_entrypoint_clears_inherited_cmd() -> None:
    assert _config('FROM busybox\nENTRYPOINT ["a"]\n')["Cmd"] is None


def test_from_platform_build_arg() -> None:
    resolver = FakeResolver()
    result = convert("FROM --platform=$BUILDPLATFORM busybox\nRUN true\n", resolver)
    assert result.image["architecture"] == "amd64"


def test_onbuild_copy_from_downstream_stage() -> None:
    resolver = FakeResolver(
        {"base:1": {"config": {"OnBuild": ["COPY --from=helper /made /made"]}}}
    )
    text = "FROM busybox AS helper\nRUN make\nFROM base:1\nRUN true\n"
    names = step_names(text, resolver=resolver)
    assert "[helper 2/2] RUN make" in names
    assert "[stage-1 2/3] ONBUILD COPY --from=helper /made /made" in names


def test_mount_from_expanded_later() -> None:
    text = (
        "FROM busybox AS helper\nRUN make\nFROM busybox\nARG T=bind\n"
        "RUN --mount=type=$T,from=helper,target=/h true\n"
    )
    assert "[helper 2/2] RUN make" in step_names(text)
