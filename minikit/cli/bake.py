"""``minikit bake``: build the targets of docker-bake files, as ``docker buildx bake`` does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from minikit.errors import MinikitError


def add_bake_parser(subparsers: Any) -> None:
    """Register ``bake`` and its flags."""
    parser = subparsers.add_parser(
        "bake",
        help="build the targets of a bake file",
        description="Build targets from docker-bake.hcl or docker-bake.json, as `docker buildx bake` does.",
    )
    add = parser.add_argument
    add("-f", "--file", dest="files", action="append", default=[], help="bake file (default: docker-bake.json, docker-bake.hcl and their .override files)")
    add("--set", dest="overrides", action="append", default=[], metavar="TARGET.KEY=VALUE", help="override a target attribute (TARGET may be *)")
    add("--print", dest="print_only", action="store_true", help="print the resolved targets as JSON and do not build")
    add("--progress", default=None, help="progress output: auto, plain, tty, rawjson, quiet")
    add("--no-cache", action="store_true", help="do not use the cache for any target")
    add("--push", action="store_true", help="push every target (shorthand for --set *.output=type=registry)")
    add("--allow", dest="allow", action="append", default=[], help="allow extra privileges for every target")
    add("-j", "--jobs", type=int, default=0, help="steps to run at once (default: the number of CPUs)")
    add("targets", nargs="*", metavar="TARGET", help="targets or groups to build (default: the group \"default\")")
    parser.set_defaults(handler=run_bake_command)


def run_bake_command(args: argparse.Namespace) -> int:
    """Resolve the bake files and build each selected target in turn."""
    from minikit.bake.definition import find_files, print_json, resolve

    cwd = Path.cwd()
    files = find_files(cwd, args.files)
    targets = resolve(files, args.targets, args.overrides)
    if args.print_only:
        sys.stdout.write(print_json(targets, args.targets))
        return 0
    requests = [to_request(target, args, cwd) for target in targets]
    return _build_all(args, requests)


def to_request(target: Any, args: argparse.Namespace, cwd: Path) -> Any:
    """Turn an evaluated bake target into a BuildRequest."""
    from minikit.bake.definition import csv_of
    from minikit.cli.flags import parse_build_context, parse_cache, parse_output, parse_ssh
    from minikit.session.secrets import parse_secret_flag
    from minikit.worker.request import BuildRequest, OutputSpec

    context = Path(target.get("context") or ".")
    context = context if context.is_absolute() else cwd / context
    dockerfile = None
    text = None
    if target.get("dockerfile-inline"):
        text = str(target.get("dockerfile-inline")).encode()
    elif target.get("dockerfile"):
        # In bake files the Dockerfile path is relative to the context.
        dockerfile = context / target.get("dockerfile")
    outputs = [parse_output(csv_of(item)) for item in target.get("output") or []]
    if args.push:
        outputs.append(OutputSpec("registry", {}))
    named = dict(
        parse_build_context(f"{name}={value}", context) for name, value in (target.get("contexts") or {}).items()
    )
    return BuildRequest(
        context=context,
        dockerfile=dockerfile,
        dockerfile_text=text,
        build_args={key: str(value) for key, value in (target.get("args") or {}).items() if value is not None},
        target=target.get("target") or "",
        tags=[str(tag) for tag in target.get("tags") or []],
        labels={key: str(value) for key, value in (target.get("labels") or {}).items()},
        outputs=outputs,
        secrets=[parse_secret_flag(csv_of(item)) for item in target.get("secret") or []],
        ssh=[parse_ssh(csv_of(item)) for item in target.get("ssh") or []],
        cache_from=[parse_cache(csv_of(item)) for item in target.get("cache-from") or []],
        cache_to=[parse_cache(csv_of(item)) for item in target.get("cache-to") or []],
        no_cache=args.no_cache or bool(target.get("no-cache")),
        no_cache_filter=[str(item) for item in target.get("no-cache-filter") or []],
        named_contexts=named,
        entitlements={item for text in args.allow for item in text.split(",") if item}
        | {str(item) for item in target.get("entitlements") or []},
        network=target.get("network") or "default",
        jobs=args.jobs,
        root=Path(args.root) if args.root else None,
        config_path=Path(args.config) if args.config else None,
        cwd=cwd,
    )


def _build_all(args: argparse.Namespace, requests: list[Any]) -> int:
    from minikit.cli.build import progress_mode
    from minikit.cli.errors import render_error
    from minikit.cli.progress import make_progress
    from minikit.executor import enter_build_namespace
    from minikit.worker import Worker, default_root

    args.quiet = False
    mode = progress_mode(args)
    root = Path(args.root) if args.root else default_root()
    for request in requests:
        request.root = request.root or root
    namespace = enter_build_namespace()
    renderer = make_progress(mode)
    worker = Worker(requests[0], renderer, namespace)
    try:
        worker.start_executor()
        for request in requests:
            result = worker.build(request)
            if result.manifest_digest:
                sys.stderr.write(f"image digest: {result.manifest_digest}\n")
    except MinikitError as error:
        worker.close()
        render_error(error, sys.stderr, renderer)
        if args.debug:
            raise
        return error.exit_code
    worker.close()
    return 0
