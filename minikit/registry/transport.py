"""HTTP requests with timeouts, retries and redirects, on ``h11`` and sockets.

This layer has no registry logic. It sends one request per connection,
retries idempotent ones on connection errors and 5xx responses, follows
redirects for GET and HEAD, and turns socket and protocol errors into
TransportError. Every URL that reaches a log line or a message goes through
``redact_url`` first.

h11 frames the HTTP/1.1 messages; this module moves the bytes. That keeps
``http.client``, and the ``email`` package it loads, out of the process, and
``ssl`` too until a registry speaks HTTPS: a build that only checks a tag on
a plain-HTTP registry starts faster.
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import h11

from minikit.util.redact import redact_url

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
CHUNK_SIZE = 256 * 1024
USER_AGENT = "minikit"

Body = bytes | Callable[[], BinaryIO] | None


@dataclass(frozen=True)
class Timeouts:
    """Socket timeouts in seconds: for connecting (and TLS), and for each read."""

    connect: float = 10.0
    read: float = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often to send an idempotent request, and the first pause in seconds.

    The pause doubles after each failed attempt.
    """

    attempts: int = 3
    backoff: float = 0.25

    def pause(self, failed_attempts: int) -> float:
        """Return the seconds to wait after ``failed_attempts`` failures."""
        return float(self.backoff * 2 ** (failed_attempts - 1))


class TransportError(Exception):
    """A request that got no HTTP response: refused, timed out, reset or TLS failure."""

    def __init__(self, netloc: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{netloc}: {reason}")
        self.netloc = netloc
        self.reason = reason
        self.retryable = retryable


class ResponseTooLarge(Exception):
    """A response body longer than the caller's limit; the text names URL and limit."""




class Response:
    """An HTTP response whose body has not been read yet; close it when done."""

    def __init__(
        self,
        method: str,
        url: str,
        connection: _Connection,
        status: int,
        headers: list[tuple[str, str]],
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        # Names in lower case, values as sent (Latin-1, as HTTP/1.1 allows).
        self.headers = headers
        self._connection = connection

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection, unread body included."""
        self._connection.close()

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name``, or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Return every value of header ``name`` (WWW-Authenticate may repeat)."""
        lowered = name.lower()
        return [value for key, value in self.headers if key == lowered]

    def read(self, limit: int) -> bytes:
        """Read the whole body; raise ResponseTooLarge if it exceeds ``limit`` bytes."""
        chunks = []
        total = 0
        for chunk in self.iter_chunks(min(CHUNK_SIZE, limit + 1)):
            total += len(chunk)
            if total > limit:
                raise ResponseTooLarge(
                    f"the response body of {redact_url(self.url)} exceeds {limit} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def iter_chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the body in chunks; raise a retryable TransportError if it breaks."""
        netloc = urlsplit(self.url).netloc
        while True:
            try:
                chunk = self._connection.read_body(size)
            except (OSError, h11.ProtocolError) as exc:
                raise TransportError(netloc, _describe(exc), retryable=True) from None
            if not chunk:
                return
            yield chunk


class _NoResponse(ConnectionError):
    """The server closed the connection before it sent a response."""


class _BodyCut(ConnectionError):
    """The server closed the connection before the end of the body."""


class _Connection:
    """One socket and the h11 state of the single exchange it carries."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.state = h11.Connection(our_role=h11.CLIENT)
        self._pending = b""
        self._ended = False

    def send(self, event: Any) -> None:
        data = self.state.send(event)
        if data:
            self.sock.sendall(data)

    def send_body(self, payload: bytes | BinaryIO | None) -> None:
        if isinstance(payload, bytes):
            if payload:
                self.send(h11.Data(data=payload))
        elif payload is not None:
            while True:
                chunk = payload.read(CHUNK_SIZE)
                if not chunk:
                    break
                self.send(h11.Data(data=chunk))
        self.send(h11.EndOfMessage())

    def next_event(self) -> Any:
        while True:
            event = self.state.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = self.sock.recv(CHUNK_SIZE)
            if not data and self.state.their_state is h11.SEND_RESPONSE:
                raise _NoResponse()
            if not data and self.state.their_state is h11.SEND_BODY:
                # An end of file ends a body framed by the connection. With
                # a length or chunks, h11 raises, because the body is cut.
                self.state.receive_data(data)
                try:
                    return self.state.next_event()
                except h11.RemoteProtocolError:
                    raise _BodyCut() from None
            self.state.receive_data(data)

    def read_response(self) -> Any:
        """Return the final response head, skipping 1xx responses."""
        while True:
            event = self.next_event()
            if isinstance(event, h11.Response):
                return event

    def read_body(self, size: int) -> bytes:
        """Return up to ``size`` body bytes, or b"" at the end of the body."""
        while not self._pending and not self._ended:
            event = self.next_event()
            if isinstance(event, h11.Data):
                self._pending = bytes(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                self._ended = True
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk

    def close(self) -> None:
        self.sock.close()


class Transport:
    """An HTTP sender with fixed timeouts and a retry policy."""

    def __init__(
        self,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        content_length: int | None = None,
        verify_tls: bool = True,
        follow_redirects: bool = False,
    ) -> Response:
        """Send a request and return the response, whatever its status.

        Idempotent methods with a replayable body are retried on connection
        errors and on 500/502/503/504. GET and HEAD follow redirects when
        ``follow_redirects`` is set. A redirect that leaves the original
        scheme, host and port drops the Authorization header and turns
        certificate verification back on.
        """
        attempts = self.retry.attempts if method in IDEMPOTENT_METHODS else 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self._send_following(
                    method,
                    url,
                    dict(headers or {}),
                    body,
                    content_length,
                    verify_tls,
                    follow_redirects,
                )
            except TransportError as exc:
                if last or not exc.retryable:
                    raise
                self._wait(method, url, attempt, exc.reason)
                continue
            if response.status in RETRY_STATUSES and not last:
                response.close()
                self._wait(method, url, attempt, f"HTTP {response.status}")
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def pause(self, failed_attempts: int) -> None:
        """Sleep for the back-off that follows ``failed_attempts`` failures."""
        self._sleep(self.retry.pause(failed_attempts))

    def _wait(self, method: str, url: str, attempt: int, reason: str) -> None:
        log.info(
            "retrying %s %s in %.2f s after attempt %d failed: %s",
            method,
            redact_url(url),
            self.retry.pause(attempt),
            attempt,
            reason,
        )
        self.pause(attempt)

    def _send_following(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Body,
        content_length: int | None,
        verify_tls: bool,
        follow_redirects: bool,
    ) -> Response:
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send_once(
                method, url, headers, body, content_length, verify_tls
            )
            location = response.header("Location")
            redirect = response.status in REDIRECT_STATUSES and location
            if not (follow_redirects and redirect and method in ("GET", "HEAD")):
                return response
            response.close()
            url = urljoin(url, location)
            log.debug("following redirect to %s", redact_url(url))
            if _origin(url) != origin:
                # Blob storage elsewhere gets neither the registry's credentials
                # nor its exemption from certificate checks.
                headers = _without_authorization(headers)
                verify_tls = True
        raise TransportError(
            urlsplit(url).netloc,
            f"more than {MAX_REDIRECTS} redirects",
            retryable=False,
        )

    def _send_once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Body,
        content_length: int | None,
        verify_tls: bool,
    ) -> Response:
        parts = urlsplit(url)
        connection = self._connect(parts.scheme, parts.netloc, verify_tls)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        payload = body() if callable(body) else body
        try:
            fields = _request_headers(parts.netloc, headers, payload, content_length, method)
            request = h11.Request(method=method, target=target or "/", headers=fields)
            connection.send(request)
            connection.send_body(payload)
            head = connection.read_response()
        except (OSError, h11.ProtocolError) as exc:
            connection.close()
            raise _transport_error(parts.netloc, exc) from None
        finally:
            if payload is not None and not isinstance(payload, bytes):
                payload.close()
        received = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in head.headers
        ]
        return Response(method, url, connection, head.status_code, received)

    def _connect(self, scheme: str, netloc: str, verify_tls: bool) -> _Connection:
        if scheme not in ("http", "https"):
            raise TransportError(
                netloc, f"unsupported URL scheme {scheme!r}", retryable=False
            )
        parts = urlsplit(f"//{netloc}")
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise TransportError(netloc, "invalid port", retryable=False) from None
        try:
            sock = socket.create_connection((host, port), timeout=self.timeouts.connect)
        except OSError as exc:
            raise _transport_error(netloc, exc) from None
        try:
            if scheme == "https":
                sock = tls_context(verify_tls).wrap_socket(sock, server_hostname=host)
            # The connect timeout covers the TCP and TLS handshakes. Reads get their own.
            sock.settimeout(self.timeouts.read)
        except OSError as exc:
            sock.close()
            raise _transport_error(netloc, exc) from None
        return _Connection(sock)


_TLS_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def tls_context(verify: bool) -> ssl.SSLContext:
    """Return a shared TLS context: the system CA bundle, or no verification."""
    import ssl

    context = _TLS_CONTEXTS.get(verify)
    if context is None:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _TLS_CONTEXTS[verify] = context
    return context


def _request_headers(
    netloc: str,
    headers: dict[str, str],
    payload: bytes | BinaryIO | None,
    content_length: int | None,
    method: str,
) -> list[tuple[str, str]]:
    fields = {key.lower(): (key, value) for key, value in headers.items()}
    fields.setdefault("host", ("Host", netloc))
    fields.setdefault("user-agent", ("User-Agent", USER_AGENT))
    # Bodies are read as sent, so a server must not compress them.
    fields.setdefault("accept-encoding", ("Accept-Encoding", "identity"))
    if content_length is not None:
        fields["content-length"] = ("Content-Length", str(content_length))
    elif isinstance(payload, bytes):
        fields.setdefault("content-length", ("Content-Length", str(len(payload))))
    elif payload is not None:
        fields.setdefault("transfer-encoding", ("Transfer-Encoding", "chunked"))
    elif method in ("POST", "PUT", "PATCH"):
        fields.setdefault("content-length", ("Content-Length", "0"))
    return list(fields.values())


def _without_authorization(headers: dict[str, str]) -> dict[str, str]:
    return {
        key: value for key, value in headers.items() if key.lower() != "authorization"
    }


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _ssl_error_types() -> tuple[type[BaseException], ...]:
    """Return ssl's error classes, or none while ssl is not loaded (no TLS error exists then)."""
    ssl = sys.modules.get("ssl")
    return (ssl.SSLError,) if ssl is not None else ()


def _transport_error(netloc: str, exc: BaseException) -> TransportError:
    # Certificate and protocol errors do not go away on a second try.
    retryable = not isinstance(exc, _ssl_error_types())
    return TransportError(netloc, _describe(exc), retryable=retryable)


def _describe(exc: BaseException) -> str:
    ssl = sys.modules.get("ssl")
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})"
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, _NoResponse):
        return "the server closed the connection without an answer"
    if isinstance(exc, _BodyCut):
        return "the connection closed before the whole body arrived"
    if isinstance(exc, h11.RemoteProtocolError):
        return f"invalid HTTP response ({exc})"
    if isinstance(exc, h11.LocalProtocolError):
        # h11's text quotes the offending header value, which may be a token.
        return "invalid HTTP request: a header name or value has characters HTTP does not allow"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__
