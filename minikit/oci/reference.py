"""Image references as Docker spells and normalizes them.

``busybox:1.36`` means ``docker.io/library/busybox:1.36``; a first path
component that contains a dot or a colon, or is ``localhost``, names a
registry host instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minikit.errors import MinikitError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")


class InvalidReference(MinikitError):
    """A string that is not a valid image reference."""


@dataclass(frozen=True)
class Reference:
    """A normalized image reference: registry host, repository, tag, digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Reference":
        """Parse and normalize ``text``; raise InvalidReference when it is malformed."""
        if not text:
            raise InvalidReference("invalid reference format: empty image name")
        remainder = text
        digest = None
        if "@" in remainder:
            remainder, digest = remainder.split("@", 1)
            if not _DIGEST.fullmatch(digest):
                raise InvalidReference(f"invalid reference format: bad digest in {text!r}")
        tag = None
        slash = remainder.rfind("/")
        colon = remainder.rfind(":")
        if colon > slash:
            remainder, tag = remainder[:colon], remainder[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise InvalidReference(f"invalid reference format: bad tag in {text!r}")
        domain, path = _split_domain(remainder)
        if not _DOMAIN.fullmatch(domain):
            raise InvalidReference(f"invalid reference format: bad registry host in {text!r}")
        if path != path.lower():
            raise InvalidReference(
                f"invalid reference format: repository name must be lowercase: {text!r}"
            )
        for component in path.split("/"):
            if not _COMPONENT.fullmatch(component):
                raise InvalidReference(f"invalid reference format: {text!r}")
        if tag is None and digest is None:
            tag = "latest"
        return cls(domain=domain, path=path, tag=tag, digest=digest)

    @property
    def repository(self) -> str:
        """The registry host and repository path, without tag or digest."""
        return f"{self.domain}/{self.path}"

    def with_digest(self, digest: str) -> "Reference":
        """Return a reference to the same repository pinned to ``digest``."""
        return Reference(self.domain, self.path, self.tag, digest)

    def familiar(self) -> str:
        """Return the short form Docker prints, such as ``busybox:1.36``."""
        path = self.path
        if self.domain == DEFAULT_DOMAIN:
            if path.startswith(OFFICIAL_PREFIX):
                path = path[len(OFFICIAL_PREFIX) :]
            name = path
        else:
            name = f"{self.domain}/{path}"
        return name + self._suffix()

    def _suffix(self) -> str:
        suffix = f":{self.tag}" if self.tag else ""
        if self.digest:
            suffix += f"@{self.digest}"
        return suffix

    def __str__(self) -> str:
        return self.repository + self._suffix()


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path
