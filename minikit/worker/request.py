"""A build request: the parsed form of ``minikit build`` flags, and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minikit.frontend.convert.options import NamedContext
from minikit.session.secrets import SecretSpec


@dataclass(frozen=True)
class OutputSpec:
    """One ``-o`` flag: an exporter type and its attributes."""

    type: str
    attrs: dict[str, str] = field(default_factory=dict)

    def attr(self, key: str, default: str = "") -> str:
        """Return attribute ``key``, or ``default``."""
        return self.attrs.get(key, default)


@dataclass(frozen=True)
class CacheSpec:
    """One ``--cache-from`` or ``--cache-to`` flag."""

    type: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SSHSpec:
    """One ``--ssh`` flag: an id and the sockets or key files behind it."""

    id: str
    paths: tuple[str, ...] = ()


@dataclass
class BuildRequest:
    """Everything one build needs, independent of how the flags were spelled."""

    context: Path
    # A Git URL given as the build context; ``context`` is then unused.
    context_url: str = ""
    dockerfile: Path | None = None
    dockerfile_text: bytes | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    outputs: list[OutputSpec] = field(default_factory=list)
    secrets: list[SecretSpec] = field(default_factory=list)
    ssh: list[SSHSpec] = field(default_factory=list)
    cache_from: list[CacheSpec] = field(default_factory=list)
    cache_to: list[CacheSpec] = field(default_factory=list)
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    named_contexts: dict[str, NamedContext] = field(default_factory=dict)
    platform: str = ""
    entitlements: set[str] = field(default_factory=set)
    network: str = "default"
    extra_hosts: list[str] = field(default_factory=list)
    jobs: int = 0
    explain_cache: bool = False
    check_only: bool = False
    root: Path | None = None
    config_path: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)


@dataclass
class BuildResult:
    """What a build produced: digests, warnings and the per-step cache report."""

    manifest_digest: str = ""
    config_digest: str = ""
    warnings: list[str] = field(default_factory=list)
    explanations: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
