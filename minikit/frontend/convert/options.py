"""Inputs of a conversion: build arguments, target, platform, named contexts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from minikit.oci.reference import Reference
from minikit.oci.spec import Platform


class ResolvedImageConfig(Protocol):
    """What the converter needs of a resolved image."""

    pinned: Reference
    config: dict[str, Any]


class ImageConfigResolver(Protocol):
    """Looks up an image's config in a registry (``[internal] load metadata``)."""

    def resolve(self, reference: Reference, platform: Platform) -> ResolvedImageConfig:
        """Return the pinned reference and config of ``reference`` for ``platform``."""


@dataclass(frozen=True)
class NamedContext:
    """A ``--build-context name=VALUE``: a folder, an image, or an OCI layout."""

    kind: str  # "local", "image" or "oci-layout"
    value: str


@dataclass
class ConvertOptions:
    """Everything the conversion depends on besides the Dockerfile itself."""

    resolver: ImageConfigResolver
    filename: str = "Dockerfile"
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    platform: Platform = field(default_factory=Platform.host)
    build_platform: Platform = field(default_factory=Platform.host)
    labels: dict[str, str] = field(default_factory=dict)
    named_contexts: dict[str, NamedContext] = field(default_factory=dict)
    no_cache: bool = False
    no_cache_filter: frozenset[str] = frozenset()
    entitlements: frozenset[str] = frozenset()
    extra_hosts: tuple[str, ...] = ()
    network: str = "default"
    check_only: bool = False
