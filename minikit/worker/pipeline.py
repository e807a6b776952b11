"""One build from start to end: read, convert, solve, export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minikit.errors import DockerfileError
from minikit.oci.spec import Platform
from minikit.progress import Warning as ProgressWarning
from minikit.worker.build import MetadataResolver, internal_step
from minikit.worker.context import check_context, read_dockerfile
from minikit.worker.request import BuildRequest, BuildResult

if TYPE_CHECKING:
    from minikit.worker.build import Worker

log = logging.getLogger(__name__)


def run_build(worker: "Worker", request: BuildRequest) -> BuildResult:
    """Build ``request`` with the worker's store, executor and progress.

    Entering the build namespace and starting the executor's helper both
    fork, which must happen before any thread exists, and the first progress
    event may start the tty view's thread. So they happen here: at once when
    the memo does not apply, else after a memo miss, which is known before
    anything is reported.
    """
    from minikit.worker.memo import memoizable

    progress = worker.progress
    use_memo = memoizable(request)
    if not use_memo and not request.check_only:
        worker.prepare_to_run()
    context = check_context(_remote_context(worker, request) or request.context)
    source = read_dockerfile(
        context, request.dockerfile, request.dockerfile_text, request.cwd
    )
    key = _memo_key(request, context, source) if use_memo else None
    if key is not None:
        remembered = _build_from_memo(worker, request, context, source, key)
        if remembered is not None:
            return remembered
    if not request.check_only:
        worker.prepare_to_run()
    from minikit.frontend.convert import ConvertOptions, Converter
    from minikit.llb import marshal

    parsed, linter = _parse(worker, source)
    services = _services(worker, request, context, source)
    platform = Platform.parse(request.platform) if request.platform else Platform.host()
    resolver = MetadataResolver(services.images, progress)
    options = ConvertOptions(
        resolver=resolver,
        filename=source.name,
        build_args=dict(request.build_args),
        target=request.target,
        platform=platform,
        labels=dict(request.labels),
        named_contexts=dict(request.named_contexts),
        no_cache=request.no_cache,
        no_cache_filter=frozenset(name.lower() for name in request.no_cache_filter),
        entitlements=frozenset(request.entitlements),
        extra_hosts=tuple(request.extra_hosts),
        network=request.network,
        check_only=request.check_only,
    )
    if request.cache_from or request.cache_to:
        from minikit.worker.cache_io import check_cache_specs

        check_cache_specs(request)
    try:
        converted = Converter(parsed, options, linter).convert()
    except DockerfileError:
        if request.check_only:
            # --check reports the warnings found before the error, too.
            _report_warnings(worker, linter.warnings)
        raise
    warnings = _report_warnings(worker, converted.warnings)
    if request.check_only:
        return BuildResult(warnings=warnings)
    if linter.error_on_warnings and converted.warnings:
        raise DockerfileError(
            f"lint violation found for rules: {', '.join(sorted({w.rule for w in converted.warnings}))}",
            hint="fix the warnings above, or drop error=true from the # check= directive",
        )
    definition = marshal(converted.output)
    result = _solve(worker, request, services, converted, source.name, definition)
    from minikit.worker.export import export_all

    digests = export_all(worker, request, services, converted, result)
    if request.cache_to:
        from minikit.worker.cache_io import export_caches

        export_caches(worker, request, services, result)
    if key is not None and _pinned_sources_only(definition):
        _remember(worker, key, converted, result, resolver)
    return BuildResult(
        manifest_digest=digests[0],
        config_digest=digests[1],
        warnings=warnings,
        explanations=[
            (report.name, report.explanation)
            for report in result.reports
            if report.explanation
        ],
    )


def _remote_context(worker: "Worker", request: BuildRequest) -> Path | None:
    if not request.context_url:
        return None
    from minikit.worker.gitcontext import checkout_git_context

    return checkout_git_context(worker, request)


def _parse(worker: "Worker", source: Any) -> tuple[Any, Any]:
    from minikit.frontend.linter import Linter
    from minikit.frontend.parser import parse

    with internal_step(
        worker.progress, f"[internal] load build definition from {source.name}"
    ):
        parsed = parse(source.data, source.name)
    check = parsed.directives.get("check")
    override = worker.request.build_args.get("BUILDKIT_DOCKERFILE_CHECK")
    linter = Linter(check[0] if check else None, source.name, override)
    syntax = parsed.directives.get("syntax")
    if syntax and not _is_dockerfile_frontend(syntax[0]):
        worker.progress.emit(
            ProgressWarning(
                f"# syntax={syntax[0]} names a frontend minikit cannot run; "
                "building with minikit's own Dockerfile frontend",
                filename=source.name,
                line=syntax[1],
            )
        )
    return parsed, linter


def _is_dockerfile_frontend(name: str) -> bool:
    base = name.split("@", 1)[0]
    repository = base.rsplit(":", 1)[0] if ":" in base.rsplit("/", 1)[-1] else base
    return repository in (
        "docker/dockerfile",
        "docker.io/docker/dockerfile",
        "dockerfile.v0",
    ) or (
        repository.endswith("/docker/dockerfile")
        or repository == "docker/dockerfile-upstream"
    )


def _image_puller(store: Any, request: BuildRequest) -> Any:
    from minikit.registry import RegistryClient, load_config
    from minikit.source.image import ImagePuller

    registry = RegistryClient(load_config(request.config_path))
    return ImagePuller(store, registry, _apply_layer_tar)


def _services(
    worker: "Worker", request: BuildRequest, context: Path, source: Any, puller: Any = None
) -> Any:
    from minikit.frontend.dockerignore import PatternMatcher, read_ignore_patterns
    from minikit.ops import OpServices
    from minikit.session import SecretStore, Session
    from minikit.source.gitenv import scrub_git_environment
    from minikit.util.lazy import Lazy

    scrub_git_environment()

    store = worker.store
    assert store is not None
    puller = puller or _image_puller(store, request)
    session = Session(secrets=SecretStore.load(request.secrets, request.cwd))
    session.local_dirs["context"] = context
    session.ssh = _ssh(request)
    for name, named in request.named_contexts.items():
        if named.kind == "local":
            session.local_dirs[name] = Path(named.value)
    with internal_step(worker.progress, "[internal] load .dockerignore"):
        # BuildKit applies no .dockerignore to a remote (Git) context.
        patterns = (
            [] if request.context_url else read_ignore_patterns(context, source.path)
        )
    snapshotter = Lazy(lambda: _snapshotter(worker, store.tmp_dir))
    rootless = worker.rootless
    services = OpServices(
        store=store,
        snapshotter=snapshotter,
        executor=worker.executor,
        images=puller,
        session=session,
        platform=Platform.host(),
        rootless=rootless,
    )
    if patterns:
        services.filters["context"] = PatternMatcher(patterns)
    # Git, HTTP and the snapshotter are built on first use: a build that
    # is cached all the way never imports or probes them.
    services.git = Lazy(lambda: _git_source(session, store.tmp_dir))
    services.http = Lazy(lambda: _http_source(session, store.tmp_dir))
    worker.cleanups.append(lambda: session.ssh.close() if session.ssh is not None else None)
    return services


def _apply_layer_tar(*args: Any, **kwargs: Any) -> None:
    from minikit.snapshot import apply_layer_tar

    apply_layer_tar(*args, **kwargs)


def _snapshotter(worker: "Worker", state_dir: Path) -> Any:
    from minikit.snapshot import detect_snapshotter

    snapshotter, notice = detect_snapshotter(state_dir)
    worker.notice(notice)
    return snapshotter


def _git_source(session: Any, scratch: Path) -> Any:
    from minikit.source.git import GitSource

    return GitSource(session.secrets, session.ssh, scratch)


def _http_source(session: Any, scratch: Path) -> Any:
    from minikit.source.http import HTTPSource

    return HTTPSource(session.secrets, scratch)


def _ssh(request: BuildRequest) -> Any:
    if not request.ssh:
        return None
    from minikit.session.ssh import SSHForwarder

    return SSHForwarder.from_specs(request.ssh)


def _report_warnings(worker: "Worker", warnings: list[Any]) -> list[str]:
    texts = []
    for warning in warnings:
        worker.progress.emit(
            ProgressWarning(
                warning.message,
                rule=warning.rule,
                detail=getattr(warning, "description", ""),
                url=getattr(warning, "url", ""),
                filename=worker.request.dockerfile.name
                if worker.request.dockerfile
                else "Dockerfile",
                line=warning.line,
            )
        )
        texts.append(f"{warning.rule}: {warning.message}")
    return texts


def _solve(
    worker: "Worker",
    request: BuildRequest,
    services: Any,
    converted: Any,
    filename: str,
    definition: Any,
) -> Any:
    from minikit.ops import Resolver
    from minikit.solver.solver import Solver, default_jobs
    importers: list[Any] = []
    if request.cache_from:
        from minikit.worker.cache_io import make_importers

        importers = make_importers(worker, request, services)
    solver = Solver(
        worker.store,
        Resolver(services),
        worker.progress,
        jobs=request.jobs or default_jobs(),
        explain=request.explain_cache,
        location_lines={filename: converted.lines},
        importers=importers,
    )
    return solver.solve(definition)


def _memo_key(request: BuildRequest, context: Path, source: Any) -> str:
    from minikit.worker.memo import memo_key

    key = memo_key(request, context, source.data)
    log.debug("build memo key %s", key)
    return key


def _pinned_sources_only(definition: Any) -> bool:
    """Tell whether every source of the graph is pinned by the memo's checks."""
    for op in definition.ops.values():
        identifier = getattr(op, "identifier", "")
        if identifier.startswith(("git://", "http://", "https://", "oci-layout://")):
            return False
    return True


def _remember(worker: "Worker", key: str, converted: Any, solved: Any, resolver: Any) -> None:
    from minikit.worker.memo import Memo, MemoRecord

    chain = list(getattr(solved.result, "chain", ()))
    images = [[ref, platform, str(found.pinned)] for (ref, platform), found in resolver.resolved().items()]
    steps = [report.name for report in solved.reports if report.name and not report.name.startswith("[internal] load build context")]
    warnings = [
        {
            "rule": w.rule,
            "message": w.message,
            "line": w.line,
            "url": getattr(w, "url", ""),
            "description": getattr(w, "description", ""),
        }
        for w in converted.warnings
    ]
    record = MemoRecord(chain, converted.image, images, steps, warnings)
    Memo(worker.store).put(key, record)
    log.debug("recorded build memo %s", key)


def _build_from_memo(
    worker: "Worker", request: BuildRequest, context: Path, source: Any, key: str
) -> BuildResult | None:
    """Export the recorded result when nothing the build depends on has changed."""
    import time
    from types import SimpleNamespace

    from minikit.errors import RegistryError
    from minikit.oci.reference import Reference
    from minikit.progress import VertexCached, VertexCompleted, now
    from minikit.worker.export import export_all, exports_from_store
    from minikit.worker.memo import Memo

    record = Memo(worker.store).get(key)
    if record is None:
        return None
    if not exports_from_store(request, worker.store, tuple(record.chain)):
        # The export reads layers, which takes the namespace. Entering it
        # reopens the store, so the record is read (and leased) again.
        worker.enter_namespace()
        record = Memo(worker.store).get(key)
        if record is None:
            return None
    # No progress event goes out until the memo has decided: a miss goes on
    # to the full build, which must fork the executor before any thread.
    progress = worker.progress
    definition = f"[internal] load build definition from {source.name}"
    started = time.time()
    puller = _image_puller(worker.store, request)
    lookups = []
    for reference, platform, pinned in record.images:
        name = f"[internal] load metadata for {reference}"
        began = time.time()
        try:
            found = puller.pin(Reference.parse(reference), Platform.parse(platform))
        except RegistryError as error:
            # The full build would ask the registry again and fail the same
            # way, so the memo reports the failed lookup in its step.
            for step in [(definition, started, started), *lookups]:
                _report_step(progress, *step)
            _report_step(progress, name, began, time.time(), str(error))
            raise
        if str(found) != pinned:
            log.debug("memo miss: %s now resolves to %s", reference, found)
            return None
        lookups.append((name, began, time.time()))
    log.info("nothing changed since build memo %s; exporting its result", key[7:19])
    worker.report_namespace()
    _report_step(progress, definition, started, started)
    services = _services(worker, request, context, source, puller)
    for step in lookups:
        _report_step(progress, *step)
    warnings = [SimpleNamespace(**item) for item in record.warnings]
    texts = _report_warnings(worker, warnings)
    for number, name in enumerate(record.steps):
        moment = now()
        vertex = f"memo:{number}"
        progress.emit(VertexCached(vertex, name, moment))
        progress.emit(VertexCompleted(vertex, name, moment, moment, cached=True))
    chain = tuple(record.chain)
    solved = SimpleNamespace(result=SimpleNamespace(chain=chain), reports=())
    converted = SimpleNamespace(image=record.image, warnings=warnings, lines=())
    digests = export_all(worker, request, services, converted, solved)
    return BuildResult(manifest_digest=digests[0], config_digest=digests[1], warnings=texts)


def _report_step(
    progress: Any, name: str, began: float, ended: float, error: str | None = None
) -> None:
    """Report an internal step that has already ended, such as a memo's image lookup."""
    from minikit.progress import VertexCompleted, VertexStarted

    progress.emit(VertexStarted("internal:" + name, name, began))
    progress.emit(VertexCompleted("internal:" + name, name, began, ended, error=error))
