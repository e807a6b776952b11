"""A small in-process registry on 127.0.0.1 for unit tests of the registry client.

It implements the parts of the distribution API the client uses (manifests,
blobs, uploads, cross-repository mounts), Bearer and Basic authentication,
redirects of blob downloads to a second server, and injected failures. It
records every request so tests can check the headers that were sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from minikit.registry.client import RegistryClient
from minikit.registry.config import RegistryConfig, RegistryHostConfig
from minikit.registry.transport import RetryPolicy, Timeouts

_ROUTE = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>manifests|blobs)/(?P<rest>.*)$")


def digest_of(data: bytes) -> str:
    """Return the sha256 digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeState:
    """What the fake stores and how it behaves; tests change it directly."""

    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    uploads: dict[str, tuple[str, bytearray]] = field(default_factory=dict)
    auth: str | None = None  # None, "bearer" or "basic"
    users: dict[str, str] = field(default_factory=dict)
    anonymous_pull: bool = True
    token_lifetime: int = 300
    issued_tokens: dict[str, set[str]] = field(default_factory=dict)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    redirect_blobs_to: str | None = None
    fail_statuses: list[int] = field(default_factory=list)
    fail_method: str | None = None  # None: any request takes the next failure
    corrupt_blobs: bool = False
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeRegistry:
    """A running fake registry; use as a context manager or call ``close``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.state = FakeState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def add_blob(self, repo: str, data: bytes) -> str:
        """Store a blob in ``repo`` and return its digest."""
        digest = digest_of(data)
        self.state.blobs[(repo, digest)] = data
        return digest

    def add_manifest(
        self, repo: str, document: dict[str, Any], tag: str | None = None
    ) -> str:
        """Store a manifest or index by digest (and ``tag``); return its digest."""
        data = json.dumps(document).encode()
        digest = digest_of(data)
        media_type = document["mediaType"]
        self.state.manifests[(repo, digest)] = (data, media_type)
        if tag is not None:
            self.state.manifests[(repo, tag)] = (data, media_type)
        return digest

    def add_image(
        self,
        repo: str,
        tag: str | None,
        *,
        architecture: str = "amd64",
        variant: str = "",
    ) -> dict[str, Any]:
        """Store a one-layer image; return its digests and layer bytes."""
        layer = f"layer for {architecture}{variant}".encode() * 100
        config: dict[str, Any] = {"architecture": architecture, "os": "linux"}
        if variant:
            config["variant"] = variant
        config_bytes = json.dumps(config).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.add_blob(repo, config_bytes),
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": self.add_blob(repo, layer),
                    "size": len(layer),
                }
            ],
        }
        digest = self.add_manifest(repo, manifest, tag)
        size = len(self.state.manifests[(repo, digest)][0])
        return {"digest": digest, "size": size, "manifest": manifest, "layer": layer}

    def requests_to(self, fragment: str) -> list[Recorded]:
        """Return the recorded requests whose path contains ``fragment``."""
        return [r for r in self.state.requests if fragment in r.path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeState

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep the test output quiet."""

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        body = self._body()
        state = self.state
        with state.lock:
            state.requests.append(
                Recorded(method, self.path, dict(self.headers.items()))
            )
            failure = None
            if state.fail_statuses and state.fail_method in (None, method):
                failure = state.fail_statuses.pop(0)
        if failure is not None:
            self._send(failure, b"")
            return
        parts = urlsplit(self.path)
        if parts.path == "/token":
            self._token(parse_qs(parts.query))
            return
        if parts.path == "/v2/" or parts.path == "/v2":
            self._send(200, b"{}")
            return
        route = _ROUTE.match(parts.path)
        if route is None:
            self._error(404, "NAME_UNKNOWN", "no route")
            return
        name, kind, rest = route.group("name", "kind", "rest")
        action = "pull" if method in ("GET", "HEAD") else "push"
        if not self._authorized(name, action):
            return
        if kind == "manifests":
            self._manifest(method, name, rest, body)
        elif rest.startswith("uploads"):
            self._upload(
                method, name, rest[len("uploads") :].strip("/"), parts.query, body
            )
        else:
            self._blob(method, name, rest)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # -- auth ---------------------------------------------------------------

    def _authorized(self, name: str, action: str) -> bool:
        state = self.state
        header = self.headers.get("Authorization", "")
        if state.auth is None:
            return True
        if state.auth == "basic":
            if self._basic_user(header) is not None:
                return True
            self._challenge('Basic realm="fake"')
            return False
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        granted = state.issued_tokens.get(token, set())
        if f"repository:{name}:{action}" in granted:
            return True
        host = self.headers.get("Host")
        scope = f"repository:{name}:{'pull' if action == 'pull' else 'pull,push'}"
        self._challenge(
            f'Bearer realm="http://{host}/token",service="fake-registry",scope="{scope}"'
        )
        return False

    def _basic_user(self, header: str) -> str | None:
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.state.users.get(user) == password else None

    def _challenge(self, value: str) -> None:
        body = json.dumps(
            {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        )
        self._send(401, body.encode(), {"WWW-Authenticate": value})

    def _token(self, query: dict[str, list[str]]) -> None:
        state = self.state
        state.token_requests.append(query)
        user = self._basic_user(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") and user is None:
            self._send(401, b'{"details":"bad credentials"}')
            return
        granted: set[str] = set()
        for scope in query.get("scope", []):
            _, name, actions = scope.split(":")
            for action in actions.split(","):
                if user is not None or (action == "pull" and state.anonymous_pull):
                    granted.add(f"repository:{name}:{action}")
        token = uuid.uuid4().hex
        state.issued_tokens[token] = granted
        body = {"token": token, "expires_in": state.token_lifetime}
        self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    # -- content ------------------------------------------------------------

    def _manifest(self, method: str, name: str, reference: str, body: bytes) -> None:
        state = self.state
        if method == "PUT":
            media_type = self.headers.get("Content-Type", "")
            digest = digest_of(body)
            state.manifests[(name, reference)] = (body, media_type)
            state.manifests[(name, digest)] = (body, media_type)
            self._send(
                201,
                b"",
                {
                    "Docker-Content-Digest": digest,
                    "Location": f"/v2/{name}/manifests/{digest}",
                },
            )
            return
        found = state.manifests.get((name, reference))
        if found is None:
            self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return
        data, media_type = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest_of(data)}
        self._send(200, data, headers, head=method == "HEAD")

    def _blob(self, method: str, name: str, digest: str) -> None:
        state = self.state
        data = state.blobs.get((name, digest))
        if data is None:
            self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return
        if state.redirect_blobs_to and method == "GET":
            self._send(
                307,
                b"",
                {"Location": f"{state.redirect_blobs_to}/storage/{name}/{digest}"},
            )
            return
        if state.corrupt_blobs:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        self._send(200, data, {"Docker-Content-Digest": digest}, head=method == "HEAD")

    def _upload(
        self, method: str, name: str, session: str, query: str, body: bytes
    ) -> None:
        state = self.state
        params = parse_qs(query)
        if method == "POST":
            mount, source = params.get("mount", [""])[0], params.get("from", [""])[0]
            if mount and (source, mount) in state.blobs:
                state.blobs[(name, mount)] = state.blobs[(source, mount)]
                self._send(201, b"", {"Docker-Content-Digest": mount})
                return
            session_id = uuid.uuid4().hex
            state.uploads[session_id] = (name, bytearray())
            self._send(
                202,
                b"",
                {"Location": f"/v2/{name}/blobs/uploads/{session_id}?_state=abc"},
            )
            return
        _, buffer = state.uploads[session]
        if method == "PATCH":
            start = int(self.headers["Content-Range"].split("-")[0])
            if start != len(buffer):
                self._send(416, b"")
                return
            buffer.extend(body)
            self._send(
                202, b"", {"Location": f"/v2/{name}/blobs/uploads/{session}?_state=def"}
            )
            return
        buffer.extend(body)
        digest = params["digest"][0]
        if digest_of(bytes(buffer)) != digest:
            self._error(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
            return
        state.blobs[(name, digest)] = bytes(buffer)
        del state.uploads[session]
        self._send(201, b"", {"Docker-Content-Digest": digest})

    # -- responses ----------------------------------------------------------

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._send(status, body, {"Content-Type": "application/json"})

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


class FakeStorage:
    """A second server that serves redirected blob downloads of a FakeRegistry."""

    def __init__(self, registry: FakeRegistry) -> None:
        self.requests: list[Recorded] = []
        handler = type(
            "StorageHandler", (_StorageHandler,), {"owner": self, "registry": registry}
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        ).start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


class _StorageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FakeStorage
    registry: FakeRegistry

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep the test output quiet."""

    def do_GET(self) -> None:  # noqa: N802
        self.owner.requests.append(
            Recorded("GET", self.path, dict(self.headers.items()))
        )
        name, _, digest = self.path[len("/storage/") :].rpartition("/")
        data = self.registry.state.blobs.get((name, digest), b"")
        self.send_response(200 if data else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_config(
    hosts: dict[str, RegistryHostConfig], path: Path | None = None
) -> RegistryConfig:
    """Build a RegistryConfig from host settings."""
    return RegistryConfig(hosts=MappingProxyType(dict(hosts)), path=path)


def make_client(
    docker_config_dir: Path,
    config: RegistryConfig | None = None,
    **options: object,
) -> RegistryClient:
    """Build a client with short timeouts and no pauses between retries.

    ``docker_config_dir`` keeps the tests away from the user's real logins.
    """
    return RegistryClient(
        config or make_config({}),
        docker_config_dir=docker_config_dir,
        timeouts=Timeouts(connect=2.0, read=5.0),
        retry=RetryPolicy(attempts=3, backoff=0.0),
        **options,  # type: ignore[arg-type]
    )
