"""Registry authentication: WWW-Authenticate challenges, bearer tokens, Basic auth.

A request goes out anonymously first. A 401 response carries a challenge:
``Basic realm=...`` asks for the credentials themselves, while
``Bearer realm=URL,service=S,scope=X`` asks the client to fetch a token from
URL (with the credentials as Basic auth, when there are any) and to send it
as ``Authorization: Bearer TOKEN``. Tokens are cached per registry host and
scope set until they expire. Challenges are remembered per host, so later
requests with a new scope fetch their token before the first attempt.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlencode, urlsplit

from minikit.errors import RegistryAuthError
from minikit.registry.config import is_loopback
from minikit.registry.credentials import Credentials, CredentialStore
from minikit.registry.transport import Transport, TransportError, redact_url

log = logging.getLogger(__name__)

# The token spec says a token without "expires_in" lasts 60 seconds.
DEFAULT_TOKEN_LIFETIME = 60.0
# Tokens are treated as expired this many seconds early (at most half their
# lifetime), so a request does not set out with a token about to run out.
EXPIRY_MARGIN = 10.0
MAX_TOKEN_RESPONSE = 1024 * 1024

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM = re.compile(rf"\s*({_TOKEN})\s*=\s*({_QUOTED}|{_TOKEN})\s*(?:,|$)")
_SCHEME = re.compile(rf"\s*,?\s*({_TOKEN})(?=\s|$|,)")


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: a lower-case scheme and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse WWW-Authenticate header values into challenges, in order.

    Malformed text ends the parse of that header value; what was parsed
    before it is kept.
    """
    challenges: list[Challenge] = []
    for value in values:
        challenges.extend(_parse_header(value))
    return challenges


def _parse_header(value: str) -> list[Challenge]:
    found = []
    position = 0
    while position < len(value):
        scheme_match = _SCHEME.match(value, position)
        if not scheme_match:
            break
        position = scheme_match.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(value, position)
            if not param:
                break
            params[param.group(1).lower()] = _unquote(param.group(2))
            position = param.end()
        found.append(Challenge(scheme_match.group(1).lower(), params))
    return found


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


class _Token:
    """A bearer token and the monotonic time at which it stops being used."""

    __slots__ = ("value", "expires")

    def __init__(self, value: str, expires: float) -> None:
        self.value = value
        self.expires = expires

    def __repr__(self) -> str:
        return "_Token(<redacted>)"


class Authorizer:
    """Source of the Authorization headers of registry requests, with a token cache."""

    def __init__(
        self,
        transport: Transport,
        credentials: CredentialStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._store = credentials
        self._clock = clock
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, tuple[str, ...]], _Token] = {}
        self._credentials: dict[str, Credentials | None] = {}
        # One client may serve parallel pulls; the lock keeps them from
        # fetching the same token twice.
        self._lock = threading.RLock()

    def authorization(
        self, netloc: str, scopes: tuple[str, ...], *, verify_tls: bool = True
    ) -> str | None:
        """Return the header value for a first attempt, or None to go anonymous."""
        with self._lock:
            challenge = self._challenges.get(netloc)
            if challenge is None:
                return None
            return self._answer(netloc, challenge, _sorted(scopes), verify_tls)

    def answer_challenge(
        self,
        netloc: str,
        scopes: tuple[str, ...],
        header_values: list[str],
        *,
        verify_tls: bool = True,
    ) -> str:
        """Return the Authorization value that meets the challenges of a 401 response.

        Raise RegistryAuthError when no supported challenge is offered, when
        Basic auth is requested and no credentials are stored, or when the
        token server rejects the request.
        """
        challenges = parse_challenges(header_values)
        chosen = _pick(challenges)
        if chosen is None:
            offered = ", ".join(c.scheme for c in challenges) or "none"
            raise RegistryAuthError(
                f"registry {netloc} requested an unsupported authentication "
                f"scheme (offered: {offered})",
                hint="minikit supports Bearer token and Basic authentication",
            )
        requested = _sorted(scopes)
        merged = _merge_scopes(requested, chosen.params.get("scope", ""))
        with self._lock:
            self._challenges[netloc] = chosen
            # A 401 means the cached token, if any, no longer works.
            self._tokens.pop((netloc, merged), None)
            self._tokens.pop((netloc, requested), None)
            header = self._answer(netloc, chosen, merged, verify_tls)
            if (netloc, merged) in self._tokens:
                self._tokens[(netloc, requested)] = self._tokens[(netloc, merged)]
            return header

    def _answer(
        self,
        netloc: str,
        challenge: Challenge,
        scopes: tuple[str, ...],
        verify_tls: bool,
    ) -> str:
        if challenge.scheme == "basic":
            credentials = self._lookup(netloc)
            if credentials is None:
                raise _login_required(netloc)
            return credentials.basic_authorization()
        key = (netloc, scopes)
        token = self._tokens.get(key)
        if token is None or token.expires <= self._clock():
            token = self._fetch_token(netloc, challenge, scopes, verify_tls)
            self._tokens[key] = token
        return f"Bearer {token.value}"

    def _lookup(self, netloc: str) -> Credentials | None:
        if netloc not in self._credentials:
            self._credentials[netloc] = self._store.lookup(netloc)
        return self._credentials[netloc]

    def _fetch_token(
        self,
        netloc: str,
        challenge: Challenge,
        scopes: tuple[str, ...],
        verify_tls: bool,
    ) -> _Token:
        realm = challenge.params.get("realm", "")
        realm_parts = urlsplit(realm)
        if realm_parts.scheme not in ("http", "https") or not realm_parts.netloc:
            raise RegistryAuthError(
                f"registry {netloc} sent a bearer challenge with an invalid realm "
                f"{redact_url(realm)!r}",
                hint="check the registry's token service configuration",
            )
        query = [("scope", scope) for scope in scopes]
        if "service" in challenge.params:
            query.insert(0, ("service", challenge.params["service"]))
        separator = "&" if realm_parts.query else "?"
        url = realm + (separator + urlencode(query) if query else "")
        headers = {"Accept": "application/json"}
        credentials = self._lookup(netloc)
        if credentials is not None and _may_send_credentials(realm_parts):
            headers["Authorization"] = credentials.basic_authorization()
        # The token server shares the registry's TLS settings when it is the same host.
        verify = verify_tls if realm_parts.netloc == netloc else True
        log.debug(
            "fetching a token for %s from %s, scopes %s",
            netloc,
            redact_url(realm),
            scopes,
        )
        return self._request_token(
            netloc, url, headers, verify, credentials is not None
        )

    def _request_token(
        self,
        netloc: str,
        url: str,
        headers: dict[str, str],
        verify_tls: bool,
        with_credentials: bool,
    ) -> _Token:
        realm_host = urlsplit(url).netloc
        try:
            with self._transport.request(
                "GET", url, headers=headers, verify_tls=verify_tls
            ) as response:
                status = response.status
                body = response.read(MAX_TOKEN_RESPONSE) if status == 200 else b""
        except TransportError as exc:
            raise RegistryAuthError(
                f"failed to fetch a token for registry {netloc} from {realm_host}: "
                f"{exc.reason}",
                hint="check the network path to the token service",
            ) from None
        if status in (401, 403):
            if with_credentials:
                raise RegistryAuthError(
                    f"token service {realm_host} rejected the credentials for "
                    f"registry {netloc}",
                    hint="log in again with `docker login`, or fix config.json",
                )
            raise _login_required(netloc)
        if status != 200:
            raise RegistryAuthError(
                f"token service {realm_host} for registry {netloc} returned "
                f"HTTP {status}",
                hint="retry later, or check the token service",
            )
        return self._parse_token(netloc, realm_host, body)

    def _parse_token(self, netloc: str, realm_host: str, body: bytes) -> _Token:
        try:
            data = json.loads(body)
            value = data.get("token") or data.get("access_token")
            lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = None, 0.0
        if not isinstance(value, str) or not value:
            raise RegistryAuthError(
                f"token service {realm_host} for registry {netloc} returned no token",
                hint="check the token service; it must return JSON with a token field",
            )
        margin = min(EXPIRY_MARGIN, lifetime / 2)
        expires = self._clock() + max(lifetime - margin, 0.0)
        return _Token(value, expires)


def _pick(challenges: list[Challenge]) -> Challenge | None:
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def _sorted(scopes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(scopes)))


def _merge_scopes(requested: tuple[str, ...], offered: str) -> tuple[str, ...]:
    # A challenge may list several scopes separated by spaces.
    merged = set(requested)
    merged.update(scope for scope in offered.split() if scope)
    return tuple(sorted(merged))


def _may_send_credentials(realm_parts: SplitResult) -> bool:
    # Passwords go over TLS, or stay on this machine.
    return realm_parts.scheme == "https" or is_loopback(realm_parts.netloc)


def _login_required(netloc: str) -> RegistryAuthError:
    return RegistryAuthError(
        f"registry {netloc} requires authentication and no credentials are "
        "stored for it",
        hint=f"run `docker login {netloc}` or add it to the auths of "
        "$DOCKER_CONFIG/config.json",
    )
