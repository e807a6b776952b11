"""Media types, descriptors and platforms of the OCI image spec and Docker's v2 formats."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
GZIP_LAYER_TYPES = (OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, OCI_LAYER_NONDIST_GZIP, DOCKER_FOREIGN_LAYER_GZIP)
ZSTD_LAYER_TYPES = (OCI_LAYER_ZSTD, DOCKER_LAYER_ZSTD)
PLAIN_LAYER_TYPES = (OCI_LAYER, DOCKER_LAYER)

# Annotation that names an image inside an OCI layout's index.json.
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# Annotation that containerd and BuildKit use for the full image name.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, digest and size of a blob."""

    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: "Platform | None" = None

    def to_json(self) -> dict[str, Any]:
        """Return the descriptor as the JSON object the specs define."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Descriptor":
        """Build a descriptor from its JSON object."""
        plat = data.get("platform")
        return cls(
            media_type=data.get("mediaType", ""),
            digest=data["digest"],
            size=int(data.get("size", 0)),
            annotations=tuple(sorted((data.get("annotations") or {}).items())),
            platform=Platform.from_json(plat) if plat else None,
        )


_ARCH_ALIASES = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
}


@dataclass(frozen=True)
class Platform:
    """An OS, architecture and variant triple, as in ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = field(default=())

    @classmethod
    def host(cls) -> "Platform":
        """Return the platform this process runs on."""
        machine = os.uname().machine
        arch, variant = _ARCH_ALIASES.get(machine.lower(), (machine, ""))
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """Parse ``os/arch[/variant]``; ``local`` means the host platform."""
        if text in ("", "local"):
            return cls.host()
        parts = text.lower().split("/")
        if len(parts) == 1:
            arch, variant = _ARCH_ALIASES.get(parts[0], (parts[0], ""))
            if parts[0] in ("linux", "windows", "darwin", "freebsd"):
                host = cls.host()
                return cls(parts[0], host.architecture, host.variant)
            return cls("linux", arch, variant)
        if len(parts) > 3 or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        arch, variant = _ARCH_ALIASES.get(parts[1], (parts[1], ""))
        if len(parts) == 3:
            variant = parts[2]
        if arch == "arm64" and variant == "v8":
            variant = ""
        return cls(parts[0], arch, variant)

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def matches(self, other: "Platform") -> bool:
        """Tell whether an image built for ``other`` runs on this platform."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not self.variant or not other.variant or self.variant == other.variant

    def to_json(self) -> dict[str, Any]:
        """Return the platform as the JSON object of an index entry."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Platform":
        """Build a platform from an index entry or image config."""
        return cls(
            os=data.get("os", ""),
            architecture=data.get("architecture", ""),
            variant=data.get("variant", "") or "",
            os_version=data.get("os.version", "") or "",
        )
