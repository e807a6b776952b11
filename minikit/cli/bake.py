"""``minikit bake``: build the targets of docker-bake files, as ``docker buildx bake`` does."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from minikit.errors import ConfigError, MinikitError, UsageError


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
    from minikit.cli.build import allowed_entitlements

    cwd = Path.cwd()
    files = find_files(cwd, args.files)
    targets = resolve(files, args.targets, args.overrides)
    if args.print_only:
        sys.stdout.write(print_json(targets, args.targets))
        return 0
    allowed = allowed_entitlements(args.allow, bake=True)
    requests = [to_request(target, args, cwd, allowed) for target in targets]
    return _build_all(args, requests)


def to_request(target: Any, args: argparse.Namespace, cwd: Path, allowed: set[str]) -> Any:
    """Turn an evaluated bake target into a BuildRequest; ``allowed`` is from ``--allow``."""
    from minikit.bake.definition import csv_of
    from minikit.cli.flags import check_jobs, parse_build_context, parse_cache, parse_output, parse_ssh
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
        tags=_tags(target),
        labels={key: str(value) for key, value in (target.get("labels") or {}).items()},
        outputs=outputs,
        secrets=[parse_secret_flag(csv_of(item)) for item in target.get("secret") or []],
        ssh=[parse_ssh(csv_of(item)) for item in target.get("ssh") or []],
        cache_from=[parse_cache(csv_of(item)) for item in target.get("cache-from") or []],
        cache_to=[parse_cache(csv_of(item)) for item in target.get("cache-to") or []],
        no_cache=args.no_cache or bool(target.get("no-cache")),
        no_cache_filter=[str(item) for item in target.get("no-cache-filter") or []],
        named_contexts=named,
        platform=_platform(target),
        entitlements=allowed | _target_entitlements(target),
        network=target.get("network") or "default",
        jobs=check_jobs(args.jobs),
        root=Path(args.root) if args.root else None,
        config_path=Path(args.config) if args.config else None,
        cwd=cwd,
    )


def _tags(target: Any) -> list[str]:
    """Return the target's tags; raise ConfigError before any build for an invalid one."""
    from minikit.cli.flags import check_tags

    tags = [str(tag) for tag in target.get("tags") or []]
    with _as_config_error():
        return check_tags(tags, f" in bake target {target.name!r}")


def _platform(target: Any) -> str:
    from minikit.cli.flags import check_platform

    platforms = [str(item) for item in target.get("platforms") or []]
    with _as_config_error():
        return check_platform(",".join(platforms), "platform", f" in bake target {target.name!r}")


def _target_entitlements(target: Any) -> set[str]:
    from minikit.cli.build import allowed_entitlements

    values = [str(item) for item in target.get("entitlements") or []]
    with _as_config_error():
        return allowed_entitlements(values, bake=True, name="entitlement", where=f" in bake target {target.name!r}")


@contextmanager
def _as_config_error() -> Iterator[None]:
    """Report a bad value from a bake file as a ConfigError (exit 1), not a usage error."""
    try:
        yield
    except UsageError as error:
        raise ConfigError(error.message, hint=error.hint) from None


def _build_all(args: argparse.Namespace, requests: list[Any]) -> int:
    from minikit.cli.build import progress_mode, run_worker
    from minikit.cli.paths import check_root
    from minikit.cli.progress import make_progress, print_warnings_summary
    from minikit.cli.signals import install_shutdown_handlers
    from minikit.executor import enter_build_namespace
    from minikit.worker import Worker, default_root

    args.quiet = False
    mode = progress_mode(args)
    root = check_root(Path(args.root) if args.root else default_root())
    for request in requests:
        request.root = request.root or root
    namespace = enter_build_namespace()
    install_shutdown_handlers()
    renderer = make_progress(mode)

    def build_each(worker: Any) -> None:
        worker.start_executor()
        for request in requests:
            _report(worker.build(request), mode)

    worker = Worker(requests[0], renderer, namespace)
    _, status = run_worker(worker, renderer, args.debug, build_each)
    if status is not None:
        return status
    print_warnings_summary(renderer, sys.stderr)
    return 0


def _report(result: Any, mode: str) -> None:
    """Print one target's result as ``build`` does: the image id when quiet."""
    if mode == "quiet":
        if result.config_digest:
            sys.stdout.write(result.config_digest + "\n")
    elif result.manifest_digest:
        sys.stderr.write(f"image digest: {result.manifest_digest}\n")
