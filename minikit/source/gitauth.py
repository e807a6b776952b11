"""HTTP credentials for Git remotes, from the build's secrets.

minikit follows Docker's documented scheme, not BuildKit's code:

- the secret ``GIT_AUTH_TOKEN`` is sent as ``Authorization: Bearer <token>``;
- when the secret ``GIT_AUTH_HEADER`` is ``basic``, the token is sent as
  Basic auth: ``user:password`` as given, or a bare token with the user
  ``x-access-token``;
- a ``GIT_AUTH_HEADER`` holding a whole header value (a scheme and
  credentials, such as ``Bearer xyz``) is sent verbatim, as BuildKit does;
- any other scheme is rejected: only Bearer and Basic are supported.

Each secret may be qualified by host: ``GIT_AUTH_TOKEN.<host:port>`` first,
then ``GIT_AUTH_TOKEN.<host>``, then the plain id. A qualified secret wins
over the plain one and applies to that host alone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from minikit.errors import GitError

TOKEN_SECRET = "GIT_AUTH_TOKEN"
HEADER_SECRET = "GIT_AUTH_HEADER"
BASIC_TOKEN_USER = "x-access-token"
_SCHEMES = ("bearer", "basic")


@dataclass(frozen=True)
class AuthHeader:
    """The ``Authorization`` value for one remote; ``repr`` hides it."""

    value: str

    def __repr__(self) -> str:
        return "AuthHeader(****)"

    __str__ = __repr__


def _candidates(secret: str, host: str) -> list[str]:
    names = [f"{secret}.{host}"]
    bare = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
    if bare != host:
        names.append(f"{secret}.{bare}")
    names.append(secret)
    return names


def _lookup(secrets: object, secret: str, host: str) -> tuple[bytes | None, bool]:
    """Return (value, qualified) of the first secret found for ``host``."""
    for index, name in enumerate(_candidates(secret, host)):
        value = secrets.get(name)  # type: ignore[attr-defined]
        if value is not None:
            return value, index < len(_candidates(secret, host)) - 1
    return None, False


def auth_header_for(secrets: object, host: str) -> AuthHeader | None:
    """Return the Authorization header for ``host``, or None when no secret applies.

    A qualified token or header wins over any plain one; within the same
    level, a header that already holds credentials wins over a token.
    """
    token, token_qualified = _lookup(secrets, TOKEN_SECRET, host)
    header, header_qualified = _lookup(secrets, HEADER_SECRET, host)
    if token is not None and header is not None and token_qualified != header_qualified:
        if token_qualified:
            header = None
        else:
            token = None
    header_text = (
        header.decode("utf-8", "replace").strip() if header is not None else ""
    )
    token_text = token.decode("utf-8", "replace").strip() if token is not None else ""
    if header_text and " " in header_text:
        scheme = header_text.split(" ", 1)[0].lower()
        if scheme not in _SCHEMES:
            raise _unsupported(scheme, host)
        return AuthHeader(header_text)
    if not token_text:
        if header_text:
            raise GitError(
                f"the secret {HEADER_SECRET} for {host} names a scheme but there is "
                f"no {TOKEN_SECRET}",
                hint=f"pass the token too: --secret id={TOKEN_SECRET},env=VARIABLE",
            )
        return None
    scheme = header_text.lower() or "bearer"
    if scheme == "bearer":
        return AuthHeader(f"Bearer {token_text}")
    if scheme == "basic":
        credentials = (
            token_text if ":" in token_text else f"{BASIC_TOKEN_USER}:{token_text}"
        )
        return AuthHeader(
            "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        )
    raise _unsupported(scheme, host)


def _unsupported(scheme: str, host: str) -> GitError:
    return GitError(
        f"unsupported Git authentication scheme {scheme!r} in {HEADER_SECRET} for "
        f"{host}: "
        "only the Bearer and Basic schemes are supported",
        hint=f"set {HEADER_SECRET} to basic (or leave it out for Bearer), or to a "
        "whole "
        "'Bearer TOKEN' or 'Basic BASE64' header value",
    )
