"""Build arguments: the predefined ones, the ARGs before the first FROM, the epoch.

The global arguments expand FROM lines and give stage ARGs without a default
their value. They are the platform arguments (``BUILDPLATFORM``,
``TARGETARCH`` and the rest, plus ``TARGETSTAGE``), then every ARG declared
before the first FROM, each default expanded with the arguments before it.
A ``--build-arg`` replaces a predefined value or a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError, MinikitError
from minikit.oci.spec import Platform

if TYPE_CHECKING:
    from minikit.frontend.shell import Lexer

# Proxy variables reach RUN through the proxy env without an ARG line.
PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "no_proxy",
        "all_proxy",
    }
)
# Build args that never trigger the "not consumed" warning.
SILENT_ARGS = PROXY_ARGS | {"SOURCE_DATE_EPOCH"}
# Build args that configure the frontend and never become environment variables.
NON_ENV_ARGS = frozenset({"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"})


def platform_args(target: Platform, build: Platform) -> dict[str, str]:
    """Return the predefined platform arguments for ``target`` built on ``build``."""
    return {
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDOSVERSION": build.os_version,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETOSVERSION": target.os_version,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
    }


def default_args(
    target: Platform, build: Platform, target_stage: str, build_args: Mapping[str, str]
) -> dict[str, str]:
    """Return the predefined arguments, each replaced by a build arg of its name."""
    args = platform_args(target, build)
    args["TARGETSTAGE"] = target_stage or "default"
    for name, value in build_args.items():
        if name in args:
            args[name] = value
    return args


def meta_args(
    args: dict[str, str],
    lexer: Lexer,
    commands: list[Any],
    build_args: Mapping[str, str],
    locate: Any,
) -> dict[str, str]:
    """Return ``args`` plus the ARGs before the first FROM, in order.

    A build arg wins over a default; a default is expanded with the
    arguments so far. ``locate(command, word)`` gives an expansion error its
    location.
    """
    result = dict(args)
    for command in commands:
        for pair in command.args:
            if pair.key in build_args:
                value: str | None = build_args[pair.key]
            elif pair.value is not None:
                try:
                    value = lexer.process_word(pair.value, result)
                except MinikitError as exc:
                    raise exc.with_location(locate(command, pair.value))
            else:
                value = None
            if value is not None:
                result[pair.key] = value
    return result


def source_date_epoch(
    build_args: Mapping[str, str], global_args: Mapping[str, str]
) -> int | None:
    """Return ``SOURCE_DATE_EPOCH`` from the build args or a global ARG, if set."""
    value = build_args.get("SOURCE_DATE_EPOCH") or global_args.get(
        "SOURCE_DATE_EPOCH", ""
    )
    if not value:
        return None
    if not value.isdigit():
        raise DockerfileError(
            f"invalid SOURCE_DATE_EPOCH {value!r}: expected a number of seconds "
            "since 1970",
            hint="pass --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        )
    return int(value)


def unused_build_args(build_args: Mapping[str, str], used: set[str]) -> list[str]:
    """Return the build args that no ARG consumed, sorted, for the warning."""
    return sorted(
        name
        for name in build_args
        if name not in used
        and name not in SILENT_ARGS
        and not name.startswith("BUILDKIT_")
    )
