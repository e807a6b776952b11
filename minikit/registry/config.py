"""The ``[registry]`` tables of ``minikit.toml``: mirrors and transport per host.

The file is read from ``$XDG_CONFIG_HOME/minikit/minikit.toml`` (by default
``~/.config/minikit/minikit.toml``). Its registry tables look like BuildKit's
``buildkitd.toml``::

    # Pull docker.io images through a local mirror, and never from Docker Hub.
    [registry."docker.io"]
    mirrors = ["127.0.0.1:5000", "https://mirror.example.com/dockerhub"]
    upstream = false

    # The mirror above serves plain HTTP.
    [registry."127.0.0.1:5000"]
    http = true

    # A registry with a self-signed certificate: HTTPS without verification.
    [registry."registry.internal:443"]
    insecure = true

Keys of a ``[registry."HOST"]`` table, where HOST is ``host[:port]`` as it
appears in image references:

``mirrors``
    Registries to pull HOST's repositories from, tried in order before HOST
    itself. Each is ``host[:port]`` with an optional ``http://`` or
    ``https://`` scheme and an optional path prefix, so
    ``mirror.example.com/dockerhub`` serves ``library/busybox`` at
    ``/v2/dockerhub/library/busybox/...``. Without a scheme, the mirror host's
    own table decides between HTTP and HTTPS. Mirrors serve pulls only; pushes
    always go to HOST.
``http``
    Talk plain HTTP to HOST. Loopback hosts (``localhost``, ``127.0.0.0/8``,
    ``::1``) use plain HTTP without this key, as Docker allows.
``insecure``
    Use HTTPS to HOST without verifying its certificate.
``upstream``
    A minikit extension: ``false`` stops the fall-back from the mirrors to
    HOST itself, so no request for HOST's images ever reaches HOST.

Other top-level tables of the file belong to other parts of minikit and are
not read here.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from minikit.errors import ConfigError
from minikit.oci.reference import DEFAULT_DOMAIN

# Names under which Docker Hub appears in references and configuration files.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
# The host that actually serves Docker Hub's registry API.
DOCKER_HUB_API_HOST = "registry-1.docker.io"

_HOST_KEYS = ("mirrors", "http", "insecure", "upstream")


@dataclass(frozen=True)
class RegistryHostConfig:
    """Transport and mirror settings of one registry host."""

    mirrors: tuple[str, ...] = ()
    http: bool = False
    insecure: bool = False
    upstream: bool = True


@dataclass(frozen=True)
class RegistryConfig:
    """Settings of every configured registry host, and the file they came from."""

    hosts: Mapping[str, RegistryHostConfig] = field(
        default_factory=lambda: MappingProxyType({})
    )
    path: Path | None = None

    def for_host(self, host: str) -> RegistryHostConfig:
        """Return the settings of ``host``, or the defaults when it has no table."""
        found = self.hosts.get(host)
        if found is None and host in DOCKER_HUB_ALIASES:
            for alias in sorted(DOCKER_HUB_ALIASES):
                found = self.hosts.get(alias)
                if found is not None:
                    break
        return found if found is not None else RegistryHostConfig()

    def describe_path(self) -> str:
        """Return the config file path for messages, marked when the file is absent."""
        if self.path is None:
            return f"{default_config_path()} (not present)"
        return str(self.path)


@dataclass(frozen=True)
class Endpoint:
    """One server to send registry API requests to.

    ``base_path`` is the URL path that repository names are appended to:
    ``/v2`` for a registry, ``/v2/<prefix>`` for a mirror with a path prefix.
    """

    scheme: str
    netloc: str
    base_path: str = "/v2"
    verify_tls: bool = True
    mirror_of: str | None = None

    @property
    def label(self) -> str:
        """The endpoint as users write it: ``host[:port][/prefix]``."""
        prefix = self.base_path[len("/v2") :]
        return self.netloc + prefix

    def url(self, suffix: str) -> str:
        """Return the absolute URL of ``suffix`` (which starts with ``/``)."""
        return f"{self.scheme}://{self.netloc}{self.base_path}{suffix}"


def default_config_path() -> Path:
    """Return ``$XDG_CONFIG_HOME/minikit/minikit.toml`` (``~/.config`` by default)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG Base Directory spec declares relative values invalid, to be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "minikit" / "minikit.toml"


def load_config(path: Path | None) -> RegistryConfig:
    """Read the registry tables of ``path`` (None: the default path).

    A missing default file gives an empty configuration. A missing explicit
    path, invalid TOML or an invalid registry table raises ConfigError.
    """
    explicit = path is not None
    file_path = path if path is not None else default_config_path()
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                f"config file {file_path} not found",
                hint="check the path, or leave the option out to use the default",
            ) from None
        return RegistryConfig(hosts=MappingProxyType({}), path=None)
    except OSError as exc:
        raise ConfigError(
            f"failed to read config file {file_path}: {exc.strerror}",
            hint="check the file's permissions",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"invalid config file {file_path}: invalid UTF-8 byte "
            f"0x{exc.object[exc.start]:02x} at offset {exc.start}",
            hint="the config file is TOML, which must be UTF-8 text",
        ) from None
    return parse_config(text, file_path)


def parse_config(text: str, path: Path) -> RegistryConfig:
    """Parse the TOML ``text`` read from ``path``; raise ConfigError if invalid."""
    import tomllib

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"invalid TOML in config file {path}: {exc}",
            hint="fix the syntax; see https://toml.io for the format",
        ) from None
    tables = document.get("registry", {})
    if not isinstance(tables, dict):
        raise _invalid(path, "registry", 'must be a table of [registry."HOST"] tables')
    hosts = {host: _parse_host(path, host, table) for host, table in tables.items()}
    return RegistryConfig(hosts=MappingProxyType(hosts), path=path)


def _parse_host(path: Path, host: str, table: Any) -> RegistryHostConfig:
    where = f'registry."{host}"'
    if not isinstance(table, dict):
        raise _invalid(path, where, "must be a table")
    unknown = sorted(set(table) - set(_HOST_KEYS))
    if unknown:
        raise _invalid(
            path,
            f"{where}.{unknown[0]}",
            f"is not a known key (known keys: {', '.join(_HOST_KEYS)})",
        )
    mirrors = table.get("mirrors", [])
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        raise _invalid(path, f"{where}.mirrors", "must be a list of strings")
    for mirror in mirrors:
        try:
            parse_mirror(mirror, host)
        except ValueError as exc:
            raise _invalid(path, f"{where}.mirrors", str(exc)) from None
    flags = {key: table.get(key, default) for key, default in _flag_defaults()}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise _invalid(path, f"{where}.{key}", "must be true or false")
    return RegistryHostConfig(mirrors=tuple(mirrors), **flags)


def _flag_defaults() -> tuple[tuple[str, bool], ...]:
    defaults = RegistryHostConfig()
    return (
        ("http", defaults.http),
        ("insecure", defaults.insecure),
        ("upstream", defaults.upstream),
    )


def _invalid(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(
        f"invalid config file {path}: {key} {problem}",
        hint="see the registry section of the minikit README for the format",
    )


def is_loopback(netloc: str) -> bool:
    """Tell whether ``host[:port]`` names this machine (localhost, 127/8 or ::1)."""
    host = urlsplit(f"//{netloc}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_mirror(text: str, upstream_host: str) -> tuple[str | None, str, str]:
    """Split a mirror entry into (scheme or None, netloc, path prefix).

    Raise ValueError naming the entry when it is not ``[scheme://]host[:port][/path]``.
    """
    stripped = text.strip()
    has_scheme = "://" in stripped
    parts = urlsplit(stripped if has_scheme else f"//{stripped}")
    scheme = parts.scheme or None
    if scheme not in (None, "http", "https"):
        raise ValueError(f"mirror {text!r} for {upstream_host} has scheme {scheme!r}")
    if not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            f"mirror {text!r} for {upstream_host} is not [http[s]://]host[:port][/path]"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(
            f"mirror {text!r} for {upstream_host} has an invalid port"
        ) from None
    return scheme, parts.netloc, parts.path.strip("/")


def upstream_endpoint(config: RegistryConfig, host: str) -> Endpoint:
    """Return the endpoint of ``host`` itself, with the scheme its settings select."""
    api_host = DOCKER_HUB_API_HOST if host in DOCKER_HUB_ALIASES else host
    scheme, verify = _transport(config.for_host(host), api_host, explicit_scheme=None)
    return Endpoint(scheme=scheme, netloc=api_host, verify_tls=verify)


def pull_endpoints(config: RegistryConfig, host: str) -> tuple[Endpoint, ...]:
    """Return the endpoints to pull ``host``'s images from, in the order to try them."""
    settings = config.for_host(host)
    endpoints = []
    for mirror in settings.mirrors:
        try:
            scheme, netloc, prefix = parse_mirror(mirror, host)
        except ValueError as exc:
            raise ConfigError(
                f"invalid mirror in {config.describe_path()}: {exc}",
                hint="write mirrors as [http[s]://]host[:port][/path]",
            ) from None
        chosen, verify = _transport(config.for_host(netloc), netloc, scheme)
        base = "/v2" + (f"/{prefix}" if prefix else "")
        endpoints.append(Endpoint(chosen, netloc, base, verify, mirror_of=host))
    if settings.upstream:
        endpoints.append(upstream_endpoint(config, host))
    return tuple(endpoints)


def _transport(
    settings: RegistryHostConfig, netloc: str, explicit_scheme: str | None
) -> tuple[str, bool]:
    if explicit_scheme == "http" or (explicit_scheme is None and settings.http):
        return "http", False
    if settings.insecure:
        return "https", False
    if explicit_scheme is None and is_loopback(netloc):
        return "http", False
    return "https", True


def canonical_host(domain: str) -> str:
    """Return the name under which a reference's registry host is configured."""
    return DEFAULT_DOMAIN if domain in DOCKER_HUB_ALIASES else domain
