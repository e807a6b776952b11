"""``minikit build``: the flags of ``docker buildx build``, and running the build."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from minikit.errors import BuildInterrupted, MinikitError, UsageError


def add_build_parser(subparsers: Any) -> None:
    """Register ``build`` and its flags."""
    parser = subparsers.add_parser(
        "build",
        help="build an image from a Dockerfile",
        description="Build an image from a Dockerfile, with the flags of `docker buildx build`.",
    )
    add_build_flags(parser)
    parser.add_argument(
        "context",
        metavar="CONTEXT",
        help="build context: a folder (PATH), a Git URL, or - to read a Dockerfile "
        "from stdin",
    )
    parser.set_defaults(handler=run_build_command)


def add_build_flags(parser: argparse.ArgumentParser) -> None:
    """Add the flags that ``build`` and ``debug dump-llb`` share."""
    add = parser.add_argument
    add(
        "-f",
        "--file",
        dest="file",
        help="name of the Dockerfile (default: CONTEXT/Dockerfile; - for stdin)",
    )
    add(
        "-t",
        "--tag",
        dest="tags",
        action="append",
        default=[],
        help="name and optionally a tag (name:tag)",
    )
    add(
        "--build-arg",
        dest="build_args",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a build-time variable",
    )
    add("--target", default="", help="set the target build stage to build")
    add(
        "--secret",
        dest="secrets",
        action="append",
        default=[],
        metavar="id=ID,src=PATH|env=VAR",
        help="secret to expose to the build",
    )
    add(
        "--ssh",
        dest="ssh",
        action="append",
        default=[],
        metavar="default|ID[=SOCKET|KEY[,KEY]]",
        help="SSH agent socket or keys to expose to the build",
    )
    add(
        "-o",
        "--output",
        dest="outputs",
        action="append",
        default=[],
        metavar="type=TYPE,dest=PATH",
        help="output destination (oci, docker, tar, local, image)",
    )
    add(
        "--cache-from",
        dest="cache_from",
        action="append",
        default=[],
        metavar="type=local,src=DIR",
        help="external cache sources",
    )
    add(
        "--cache-to",
        dest="cache_to",
        action="append",
        default=[],
        metavar="type=local,dest=DIR",
        help="cache export destinations",
    )
    add(
        "--no-cache",
        action="store_true",
        help="do not use the cache when building the image",
    )
    add(
        "--no-cache-filter",
        dest="no_cache_filter",
        action="append",
        default=[],
        metavar="STAGE",
        help="do not cache the given stages",
    )
    add(
        "--progress",
        default=None,
        help="progress output: auto, plain, tty, rawjson, quiet (default: auto, or $BUILDKIT_PROGRESS)",
    )
    add(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the image id when the build is done",
    )
    add(
        "--build-context",
        dest="build_contexts",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="additional build contexts (a folder, docker-image://REF, oci-layout://PATH)",
    )
    add(
        "--label",
        dest="labels",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set metadata for the image",
    )
    add(
        "--platform",
        default="",
        help="target platform (only the host platform is supported)",
    )
    add(
        "--allow",
        dest="allow",
        action="append",
        default=[],
        metavar="ENTITLEMENT",
        help="allow extra privileges: network.host, security.insecure, secret-in-layer",
    )
    add(
        "--network",
        default="default",
        help="networking mode for RUN instructions: default, none, host",
    )
    add(
        "--add-host",
        dest="add_hosts",
        action="append",
        default=[],
        metavar="HOST:IP",
        help="add a custom host-to-IP mapping",
    )
    add("--push", action="store_true", help="shorthand for --output=type=registry")
    add(
        "--load",
        action="store_true",
        help="shorthand for --output=type=docker (needs dest=: there is no daemon to load into)",
    )
    add(
        "--pull",
        action="store_true",
        help="always look up the newest base images (minikit always does)",
    )
    add("--iidfile", default=None, help="write the image id to the file")
    add(
        "--metadata-file",
        dest="metadata_file",
        default=None,
        help="write build result metadata to the file",
    )
    add("--check", action="store_true", help="run the build checks only; do not build")
    add("--call", default="build", help="build or check (check is the same as --check)")
    add(
        "-j",
        "--jobs",
        type=int,
        default=0,
        help="steps to run at once (default: the number of CPUs, at least 4, "
        "so steps that wait on sleep or the network overlap even on small machines)",
    )
    add(
        "--explain-cache",
        dest="explain_cache",
        action="store_true",
        help="print why each step missed the cache",
    )


def request_from_args(args: argparse.Namespace, cwd: Path) -> Any:
    """Turn parsed flags into a BuildRequest."""
    from minikit.cli.flags import (
        check_call,
        check_jobs,
        check_platform,
        check_tags,
        parse_add_host,
        parse_build_arg,
        parse_build_context,
        parse_cache,
        parse_label,
        parse_output,
        parse_ssh,
    )
    from minikit.session.secrets import parse_secret_flag
    from minikit.source.gitref import is_git_url
    from minikit.worker.request import BuildRequest, OutputSpec

    build_args: dict[str, str] = {}
    for text in args.build_args:
        key, value = parse_build_arg(text)
        if value is not None:
            build_args[key] = value
    outputs = [parse_output(text) for text in args.outputs]
    if args.push:
        outputs.append(OutputSpec("registry", {}))
    if args.load:
        raise UsageError(
            "--load needs a Docker daemon, and minikit runs without one",
            hint="write a tarball with -o type=docker,dest=FILE and run `docker load -i FILE` where Docker runs",
        )
    context_text = args.context
    if not context_text:
        raise UsageError(
            "invalid build context '': the path is empty",
            hint='pass a folder, such as "." for the current folder, a Git URL or -',
        )
    dockerfile_text = None
    context_url = ""
    if context_text == "-":
        dockerfile_text = sys.stdin.buffer.read()
        context = cwd
    elif is_git_url(context_text):
        context_url = context_text
        context = cwd
    else:
        context = Path(context_text)
        if not context.is_absolute():
            context = cwd / context
    dockerfile = None
    if args.file == "-":
        dockerfile_text = sys.stdin.buffer.read()
    elif args.file:
        dockerfile = Path(args.file)
    named = dict(parse_build_context(text, cwd) for text in args.build_contexts)
    return BuildRequest(
        context=context,
        context_url=context_url,
        dockerfile=dockerfile,
        dockerfile_text=dockerfile_text,
        build_args=build_args,
        target=args.target,
        tags=check_tags(list(args.tags)),
        labels=dict(parse_label(text) for text in args.labels),
        outputs=outputs,
        secrets=[parse_secret_flag(text) for text in args.secrets],
        ssh=[parse_ssh(text) for text in args.ssh],
        cache_from=[parse_cache(text) for text in args.cache_from],
        cache_to=[parse_cache(text) for text in args.cache_to],
        no_cache=args.no_cache,
        no_cache_filter=[
            item for text in args.no_cache_filter for item in text.split(",") if item
        ],
        named_contexts=named,
        platform=check_platform(args.platform),
        entitlements=allowed_entitlements(args.allow),
        network=args.network,
        extra_hosts=[parse_add_host(text) for text in args.add_hosts],
        jobs=check_jobs(args.jobs),
        explain_cache=args.explain_cache,
        check_only=check_call(args.call) == "check" or args.check,
        root=Path(args.root) if args.root else None,
        config_path=Path(args.config) if args.config else None,
        cwd=cwd,
    )


def allowed_entitlements(
    values: list[str], *, bake: bool = False, name: str = "--allow", where: str = ""
) -> set[str]:
    """Return the entitlements in ``values``; warn about those minikit ignores."""
    from minikit.cli.flags import parse_allow

    granted, ignored = parse_allow(values, bake=bake, name=name, where=where)
    for item in ignored:
        sys.stderr.write(
            f"WARNING: {name} {item}{where} is ignored: minikit has no feature "
            "that needs it\n"
        )
    return granted


def progress_mode(args: argparse.Namespace) -> str:
    """Return the progress mode from ``--progress``, ``-q`` or ``BUILDKIT_PROGRESS``."""
    from minikit.cli.progress import MODES

    hint = "use auto, plain, tty, rawjson or quiet"
    if args.progress is not None and args.progress not in MODES:
        raise UsageError(f"invalid --progress {args.progress!r}", hint=hint)
    if args.quiet:
        return "quiet"
    mode = args.progress or os.environ.get("BUILDKIT_PROGRESS") or "auto"
    if mode not in MODES:
        raise UsageError(f"invalid BUILDKIT_PROGRESS {mode!r}", hint=hint)
    return mode


def run_build_command(args: argparse.Namespace) -> int:
    """Run ``minikit build`` and return the exit status."""
    from minikit.cli.progress import make_progress, print_warnings_summary
    from minikit.cli.signals import install_shutdown_handlers

    request, mode, files = _prepare(args)
    install_shutdown_handlers()
    renderer = make_progress(mode)
    from minikit.worker import Worker

    # The worker enters the build namespace when the build first needs it.
    enter = None if request.check_only else _enter_namespace
    worker = Worker(request, renderer, enter_namespace=enter)
    result, status = run_worker(worker, renderer, args.debug, lambda worker: worker.build())
    if status is not None:
        return status
    print_warnings_summary(renderer, sys.stderr)
    _report_result(request, result, mode, files)
    # Like buildx, --check fails when a build check found something.
    return 1 if request.check_only and result.warnings else 0


def _prepare(
    args: argparse.Namespace,
) -> tuple[Any, str, dict[str, Path | None]]:
    """Check every flag and return the request, progress mode and result files."""
    from minikit.cli.paths import check_root
    from minikit.session.secrets import read_secret_values
    from minikit.worker import default_root

    request = request_from_args(args, Path.cwd())
    request.secrets = read_secret_values(request.secrets, request.cwd)
    if request.ssh:
        from minikit.session.ssh import check_ssh_flags

        check_ssh_flags(request.ssh)
    mode = progress_mode(args)
    files = _result_files(args)
    # Decided before entering the user namespace, where everyone is uid 0.
    request.root = check_root(request.root or default_root())
    return request, mode, files


def run_worker(
    worker: Any, renderer: Any, debug: bool, work: Callable[[Any], Any]
) -> tuple[Any, int | None]:
    """Run ``work(worker)``, then close the worker, whatever happens.

    Return the result and None, or None and the exit status after reporting
    a failure. Ctrl-C, SIGTERM and SIGHUP end up here as an interrupt.
    """
    from minikit.cli.progress import print_warnings_summary
    from minikit.cli.signals import interrupted_message, interrupted_status

    try:
        result = work(worker)
    except MinikitError as error:
        worker.close()
        print_warnings_summary(renderer, sys.stderr)
        report_failure(error)
        if debug:
            raise
        return None, exit_status(error)
    except KeyboardInterrupt:
        worker.close()
        print_warnings_summary(renderer, sys.stderr)
        sys.stderr.write(f"ERROR: {interrupted_message()}\n")
        return None, interrupted_status()
    except BaseException:
        worker.close()
        raise
    worker.close()
    return result, None


def exit_status(error: MinikitError) -> int:
    """Return the exit status for ``error``: 128 + the signal for an interrupt."""
    from minikit.cli.signals import interrupted_status

    if isinstance(error, BuildInterrupted):
        return interrupted_status()
    return error.exit_code


def report_failure(error: MinikitError) -> None:
    """Write the error report; an interrupt also names the signal behind it."""
    from minikit.cli.errors import render_error
    from minikit.cli.signals import with_signal

    if isinstance(error, BuildInterrupted):
        error.message = with_signal(error.message)
    render_error(error, sys.stderr)


def _result_files(args: argparse.Namespace) -> dict[str, Path | None]:
    from minikit.cli.paths import check_result_file

    return {
        "--iidfile": check_result_file("--iidfile", args.iidfile),
        "--metadata-file": check_result_file("--metadata-file", args.metadata_file),
    }


def _enter_namespace() -> Any:
    from minikit.executor import enter_build_namespace

    return enter_build_namespace()


def _report_result(
    request: Any, result: Any, mode: str, files: dict[str, Path | None]
) -> None:
    from minikit.cli.paths import write_result_file

    if request.check_only:
        count = len(result.warnings)
        if count == 1:
            sys.stderr.write("Check complete, 1 warning has been found!\n")
        elif count:
            sys.stderr.write(f"Check complete, {count} warnings have been found!\n")
        else:
            sys.stderr.write("Check complete, no warnings found.\n")
        return
    for name, reasons in result.explanations:
        sys.stderr.write(f"cache miss: {name}\n")
        for reason in reasons:
            sys.stderr.write(f"  - {reason}\n")
    iidfile = files["--iidfile"]
    if iidfile is not None:
        write_result_file("--iidfile", iidfile, result.config_digest)
    metadata_file = files["--metadata-file"]
    if metadata_file is not None:
        data = {
            "containerimage.digest": result.manifest_digest,
            "containerimage.config.digest": result.config_digest,
        }
        text = json.dumps(data, indent=2) + "\n"
        write_result_file("--metadata-file", metadata_file, text)
    if mode == "quiet":
        if result.config_digest:
            sys.stdout.write(result.config_digest + "\n")
    elif result.manifest_digest and mode != "rawjson":
        # rawjson's stream contains JSON events only. Tools read the digest
        # from --metadata-file or --iidfile.
        sys.stderr.write(f"image digest: {result.manifest_digest}\n")
