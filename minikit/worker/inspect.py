"""Converting without building: the definition behind ``minikit debug dump-llb``."""

from __future__ import annotations

from typing import Any

from minikit.llb import Definition, marshal
from minikit.oci.spec import Platform
from minikit.progress import ProgressWriter
from minikit.worker.build import MetadataResolver
from minikit.worker.context import check_context, read_dockerfile
from minikit.worker.request import BuildRequest


def definition_of(request: BuildRequest, progress: ProgressWriter) -> Definition:
    """Return the build graph ``request`` would run; only image metadata is fetched."""
    from minikit.frontend.convert import ConvertOptions, Converter
    from minikit.frontend.linter import Linter
    from minikit.frontend.parser import parse
    from minikit.registry import RegistryClient, load_config
    from minikit.source.image import ImagePuller

    context = check_context(request.context)
    source = read_dockerfile(
        context, request.dockerfile, request.dockerfile_text, request.cwd
    )
    parsed = parse(source.data, source.name)
    check = parsed.directives.get("check")
    linter = Linter(
        check[0] if check else None,
        source.name,
        request.build_args.get("BUILDKIT_DOCKERFILE_CHECK"),
    )
    puller: Any = ImagePuller(
        None, RegistryClient(load_config(request.config_path)), lambda *a: None
    )  # type: ignore[arg-type]
    options = ConvertOptions(
        resolver=MetadataResolver(puller, progress),
        filename=source.name,
        build_args=dict(request.build_args),
        target=request.target,
        platform=Platform.parse(request.platform)
        if request.platform
        else Platform.host(),
        labels=dict(request.labels),
        named_contexts=dict(request.named_contexts),
        no_cache=request.no_cache,
        no_cache_filter=frozenset(name.lower() for name in request.no_cache_filter),
        entitlements=frozenset(request.entitlements),
        network=request.network,
    )
    converted = Converter(parsed, options, linter).convert()
    return marshal(converted.output)
