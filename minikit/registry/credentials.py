"""Registry credentials from Docker's ``config.json``, in a type that never prints them.

Docker keeps logins in ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json``
by default). Its ``auths`` object maps a server to either an ``auth`` field,
base64 of ``user:password``, or to ``username`` and ``password`` fields. Docker
Hub's key is ``https://index.docker.io/v1/``; other keys are ``host[:port]``,
sometimes written with a scheme or a path, which are ignored when matching.
``credHelpers`` (per host) and ``credsStore`` (for every host) name a
``docker-credential-<name>`` program that is asked instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from minikit.errors import ConfigError
from minikit.registry.config import DOCKER_HUB_ALIASES

log = logging.getLogger(__name__)

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
# Seconds to wait for a docker-credential-* helper before giving up on it.
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token) for one registry; ``repr`` hides both."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(<redacted>)"

    __str__ = __repr__

    def basic_authorization(self) -> str:
        """Return the value of an ``Authorization: Basic ...`` header."""
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class CredentialStore(Protocol):
    """Something that finds the credentials of a registry host."""

    def lookup(self, host: str) -> Credentials | None:
        """Return the credentials for ``host[:port]``, or None for anonymous access."""
        ...


def default_docker_config_dir() -> Path:
    """Return ``$DOCKER_CONFIG``, or ``~/.docker`` when it is unset."""
    configured = os.environ.get("DOCKER_CONFIG")
    return Path(configured) if configured else Path.home() / ".docker"


def normalize_auth_key(key: str) -> str:
    """Reduce a ``config.json`` auths key to the host name references use."""
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    host = host.split("/", 1)[0]
    return "docker.io" if host in DOCKER_HUB_ALIASES else host


class DockerConfigCredentials:
    """Credentials from a Docker ``config.json``, read on the first lookup.

    A missing file means anonymous access everywhere. An unreadable or
    invalid file raises ConfigError at the first lookup, so anonymous pulls
    that never need credentials do not read the file at all.
    """

    def __init__(self, config_dir: Path | None = None) -> None:
        self.path = (config_dir or default_docker_config_dir()) / "config.json"
        self._document: dict[str, Any] | None = None

    def lookup(self, host: str) -> Credentials | None:
        """Return the credentials stored for ``host``, or None when there are none."""
        document = self._load()
        host = normalize_auth_key(host)
        helpers = document.get("credHelpers") or {}
        if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
            return run_credential_helper(helpers[host], host)
        inline = self._inline(document, host)
        if inline is not None:
            return inline
        store = document.get("credsStore")
        if isinstance(store, str) and store:
            return run_credential_helper(store, host)
        return None

    def _load(self) -> dict[str, Any]:
        if self._document is not None:
            return self._document
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._document = {}
            return self._document
        except OSError as exc:
            raise self._error(f"failed to read: {exc.strerror}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._error(f"invalid JSON at line {exc.lineno}") from None
        if not isinstance(document, dict):
            raise self._error("the top level must be a JSON object")
        self._document = document
        return document

    def _inline(self, document: dict[str, Any], host: str) -> Credentials | None:
        auths = document.get("auths") or {}
        if not isinstance(auths, dict):
            raise self._error('"auths" must be a JSON object')
        for key, entry in auths.items():
            if normalize_auth_key(key) != host or not isinstance(entry, dict):
                continue
            found = self._decode_entry(key, entry)
            if found is not None:
                return found
        return None

    def _decode_entry(self, key: str, entry: dict[str, Any]) -> Credentials | None:
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise self._error(
                    f'"auth" of {key!r} is not base64 of user:password'
                ) from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise self._error(f'"auth" of {key!r} is not base64 of user:password')
            return Credentials(username, password)
        user, secret = entry.get("username"), entry.get("password")
        if isinstance(user, str) and isinstance(secret, str) and user:
            return Credentials(user, secret)
        # NOTE: an "identitytoken" entry (OAuth refresh token) is not supported;
        # such a host is accessed anonymously.
        if entry.get("identitytoken"):
            log.warning(
                "identity tokens in %s are not supported; key %s", self.path, key
            )
        return None

    def _error(self, problem: str) -> ConfigError:
        return ConfigError(
            f"invalid Docker config file {self.path}: {problem}",
            hint="fix the file or run `docker login` again; set DOCKER_CONFIG "
            "to use another folder",
        )


def run_credential_helper(name: str, host: str) -> Credentials | None:
    """Ask ``docker-credential-<name> get`` for the credentials of ``host``.

    Return None when the helper has none. The helper's output is never
    logged or put in an error, because it contains the secret.
    """
    import subprocess

    program = f"docker-credential-{name}"
    server = DOCKER_HUB_AUTH_KEY if host == "docker.io" else host
    try:
        result = subprocess.run(
            [program, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            f"credential helper {program} for {host} not found on PATH",
            hint="install it, or remove it from credHelpers/credsStore in config.json",
        ) from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"credential helper {program} for {host} timed out after "
            f"{HELPER_TIMEOUT:g} s",
            hint="check that the helper works: run `docker-credential-... get`",
        ) from None
    if result.returncode != 0:
        # Helpers exit non-zero with "credentials not found" for unknown hosts.
        log.debug(
            "%s has no credentials for %s (exit status %d)",
            program,
            host,
            result.returncode,
        )
        return None
    return _parse_helper_output(program, host, result.stdout)


def _parse_helper_output(program: str, host: str, output: bytes) -> Credentials | None:
    try:
        data = json.loads(output)
        username, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"credential helper {program} returned invalid output for {host}",
            hint="expected JSON with Username and Secret fields",
        ) from None
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        return None
    if username == "<token>":
        # NOTE: identity tokens need an OAuth refresh exchange, which is not
        # implemented; the host is accessed anonymously.
        log.warning(
            "%s returned an identity token for %s, which is not supported",
            program,
            host,
        )
        return None
    return Credentials(username, secret)
