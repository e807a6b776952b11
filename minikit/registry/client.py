"""The registry client: resolve images, download blobs, push blobs and manifests.

Pulls try each configured mirror of the reference's host in order, then the
host itself (unless its config sets ``upstream = false``), as containerd and
BuildKit do. Any failure on one endpoint moves on to the next. Pushes go to
the host itself only, because mirrors serve pulls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from minikit.errors import (
    ImageNotFound,
    RegistryAuthError,
    RegistryError,
    RegistryUnreachable,
)
from minikit.oci.reference import Reference
from minikit.oci.spec import Descriptor, Platform
from minikit.registry.auth import Authorizer
from minikit.registry.config import (
    Endpoint,
    RegistryConfig,
    canonical_host,
    pull_endpoints,
    upstream_endpoint,
)
from minikit.registry.credentials import CredentialStore, DockerConfigCredentials
from minikit.registry.manifest import (
    ACCEPTED_MANIFEST_TYPES,
    InvalidManifest,
    compute_digest,
    config_descriptor,
    digest_algorithm,
    is_index,
    layer_descriptors,
    matches_digest,
    parse_manifest,
    select_platform,
)
from minikit.registry.transport import (
    RETRY_STATUSES,
    Body,
    Response,
    ResponseTooLarge,
    RetryPolicy,
    Timeouts,
    Transport,
    TransportError,
    redact_url,
)

log = logging.getLogger(__name__)

# docker/distribution rejects manifests over 4 MiB, and containers/image reads
# no more. minikit allows twice that before it stops reading a response.
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MAX_CONFIG_SIZE = 64 * 1024 * 1024
# Blobs up to this size are uploaded in one streamed PUT. Larger blobs go in
# PATCH chunks of this size, each read into memory before it is sent.
DEFAULT_UPLOAD_CHUNK = 32 * 1024 * 1024
MAX_ERROR_BODY = 64 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class ResolvedImage:
    """An image reference pinned to the manifest of one platform, with its config."""

    reference: Reference
    pinned: Reference
    manifest_digest: str
    manifest: dict[str, Any]
    manifest_media_type: str
    config: dict[str, Any]
    config_digest: str
    layers: tuple[Descriptor, ...]
    index_digest: str | None


@dataclass(frozen=True)
class _Manifest:
    data: bytes
    document: dict[str, Any]
    media_type: str
    digest: str


class _EndpointError(Exception):
    """A failure on one endpoint, which the public methods turn into a MinikitError."""

    def __init__(
        self,
        error_type: type[RegistryError],
        reason: str,
        *,
        hint: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason
        self.hint = hint
        self.retryable = retryable


class RegistryClient:
    """A client for the Docker Registry HTTP API v2 and the OCI distribution spec.

    One client may serve a whole build: it caches tokens, and endpoints that
    could not be reached move to the end of the mirror order for later calls.
    """

    def __init__(
        self,
        config: RegistryConfig,
        *,
        docker_config_dir: Path | None = None,
        credentials: CredentialStore | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        upload_chunk_size: int = DEFAULT_UPLOAD_CHUNK,
    ) -> None:
        self.config = config
        self._retry = retry or RetryPolicy()
        self._transport = Transport(timeouts, self._retry)
        store = credentials or DockerConfigCredentials(docker_config_dir)
        self._auth = Authorizer(self._transport, store)
        self._chunk_size = upload_chunk_size
        self._down: set[Endpoint] = set()

    # -- pulls ---------------------------------------------------------------

    def resolve(self, ref: Reference, platform: Platform) -> ResolvedImage:
        """Pin ``ref`` to the manifest for ``platform`` and fetch the image config.

        Raise ImageNotFound (PlatformNotFound when an index has no entry for
        ``platform``), RegistryUnreachable or RegistryAuthError.
        """
        return self._pull(ref, str(ref), lambda e: self._resolve_at(e, ref, platform))

    def pin(self, ref: Reference, platform: Platform) -> Reference:
        """Return ``ref`` pinned to the digest of its manifest for ``platform``.

        The same pin as ``resolve``, and the same errors, without fetching
        the image config: one manifest request, or two for an index.
        """
        return self._pull(ref, str(ref), lambda e: self._pin_at(e, ref, platform))

    def get_manifest(self, ref: Reference) -> tuple[bytes, str]:
        """Return the raw manifest or index that ``ref`` names, and its media type."""
        target = ref.digest or ref.tag or "latest"
        manifest = self._pull(
            ref,
            str(ref),
            lambda e: self._fetch_manifest(e, ref.path, target, ref.digest),
        )
        return manifest.data, manifest.media_type

    def fetch_blob(
        self,
        ref: Reference,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        """Download a blob of ``ref``'s repository to ``dest``, verified.

        The bytes go to a temporary file next to ``dest``, which replaces
        ``dest`` only after its size and digest match ``descriptor``.
        ``on_progress(bytes_so_far, total_or_None)`` is called after each chunk.
        """
        self._check_digest_format(descriptor.digest)
        subject = f"{ref.repository}@{descriptor.digest}"
        self._pull(
            ref,
            subject,
            lambda e: self._download(e, ref.path, descriptor, dest, on_progress),
        )

    # -- pushes --------------------------------------------------------------

    def blob_exists(self, ref: Reference, digest: str) -> bool:
        """Tell whether ``ref``'s repository (on its own host) has blob ``digest``."""
        self._check_digest_format(digest)
        endpoint = self._push_endpoint(ref)
        scopes = (_scope(endpoint, ref.path, "pull,push"),)
        return self._attempt(
            ref,
            f"{ref.repository}@{digest}",
            (endpoint,),
            lambda e: self._blob_exists_at(e, ref.path, digest, scopes),
        )

    def upload_blob(
        self,
        ref: Reference,
        digest: str,
        size: int,
        open_blob: Callable[[], BinaryIO],
        *,
        mount_from: Reference | None = None,
    ) -> None:
        """Upload a blob to ``ref``'s repository unless it is already there.

        With ``mount_from`` (a repository on the same host), the registry is
        first asked to mount the blob from there. ``open_blob`` is called once
        per attempt and must return the blob's bytes from the start.
        """
        self._check_digest_format(digest)
        endpoint = self._push_endpoint(ref)
        scopes = [_scope(endpoint, ref.path, "pull,push")]
        source = _mount_source(ref, mount_from)
        if source is not None:
            scopes.append(_scope(endpoint, source, "pull"))
        upload = _Upload(digest, size, open_blob, source, tuple(scopes))
        self._attempt(
            ref,
            f"{ref.repository}@{digest}",
            (endpoint,),
            lambda e: self._upload_at(e, ref.path, upload),
        )

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str:
        """Store a manifest under ``ref``'s tag (or digest) and return its digest."""
        digest = compute_digest(data)
        if ref.digest is not None and not matches_digest(data, ref.digest):
            raise RegistryError(
                f"cannot push manifest {digest} as {ref}: the digests differ",
                hint="push by tag, or give the digest of these manifest bytes",
            )
        endpoint = self._push_endpoint(ref)
        target = ref.tag or ref.digest or digest
        self._attempt(
            ref,
            str(ref),
            (endpoint,),
            lambda e: self._put_manifest_at(
                e, ref.path, target, data, media_type, digest
            ),
        )
        return digest

    # -- endpoint selection and error reporting --------------------------------

    def _pull(
        self, ref: Reference, subject: str, operation: Callable[[Endpoint], T]
    ) -> T:
        host = canonical_host(ref.domain)
        endpoints = pull_endpoints(self.config, host)
        if not endpoints:
            raise RegistryError(
                f"no registry to pull {subject} from: {host} has upstream = false "
                "and no mirrors",
                hint=f"add mirrors for {host} in {self.config.describe_path()}",
            )
        ordered = sorted(endpoints, key=lambda e: e in self._down)
        return self._attempt(ref, subject, tuple(ordered), operation)

    def _attempt(
        self,
        ref: Reference,
        subject: str,
        endpoints: tuple[Endpoint, ...],
        operation: Callable[[Endpoint], T],
    ) -> T:
        failures: list[tuple[Endpoint, _EndpointError]] = []
        for endpoint in endpoints:
            try:
                result = operation(endpoint)
            except _EndpointError as exc:
                if exc.error_type is RegistryUnreachable:
                    self._down.add(endpoint)
                log.info(
                    "%s failed for %s: %s", _describe(endpoint), subject, exc.reason
                )
                failures.append((endpoint, exc))
                continue
            self._down.discard(endpoint)
            return result
        raise self._combined_error(ref, subject, failures)

    def _combined_error(
        self,
        ref: Reference,
        subject: str,
        failures: list[tuple[Endpoint, _EndpointError]],
    ) -> RegistryError:
        host = canonical_host(ref.domain)
        mirrored = any(endpoint.mirror_of for endpoint, _ in failures)
        decisive = [exc for _, exc in failures if exc.error_type is not ImageNotFound]
        if not decisive:
            return ImageNotFound(
                f"{subject}: not found", hint=self._not_found_hint(host, mirrored)
            )
        first = decisive[0]
        tried = "; ".join(_attempt_text(e, exc) for e, exc in failures)
        headline = {
            RegistryUnreachable: "failed to reach the registry for",
            RegistryAuthError: "authentication failed for",
        }.get(first.error_type, "registry request failed for")
        hint = first.hint
        if first.error_type is RegistryUnreachable:
            hint = self._unreachable_hint(host, mirrored)
        return first.error_type(f"{headline} {subject}: {tried}", hint=hint)

    def _not_found_hint(self, host: str, mirrored: bool) -> str:
        hint = "check the image name and tag"
        if mirrored:
            hint += f", and the mirrors of {host} in {self.config.describe_path()}"
        return hint

    def _unreachable_hint(self, host: str, mirrored: bool) -> str:
        hint = "check that the registry is running and reachable"
        if not mirrored:
            return (
                f"{hint}; registry settings are read from {self.config.describe_path()}"
            )
        hint += f", and the mirrors of {host} in {self.config.describe_path()}"
        if not self.config.for_host(host).upstream:
            hint += f" (upstream = false there, so {host} itself is not tried)"
        return hint

    def _push_endpoint(self, ref: Reference) -> Endpoint:
        host = canonical_host(ref.domain)
        if not self.config.for_host(host).upstream:
            raise RegistryError(
                f"cannot push {ref}: requests to {host} are disabled by "
                f"upstream = false in {self.config.describe_path()}",
                hint="push to another registry, or remove upstream = false",
            )
        return upstream_endpoint(self.config, host)

    def _check_digest_format(self, digest: str) -> None:
        try:
            digest_algorithm(digest)
        except InvalidManifest:
            raise RegistryError(
                f"invalid digest {digest!r}",
                hint="digests are sha256:<64 hex digits> (or sha384, sha512)",
            ) from None

    # -- requests ----------------------------------------------------------------

    def _request(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        scopes: tuple[str, ...],
        *,
        headers: dict[str, str] | None = None,
        body: Body = None,
        content_length: int | None = None,
        follow_redirects: bool = False,
    ) -> Response:
        """Send a request with an Authorization header; retry once after a 401."""
        send = _Sender(
            self._transport,
            endpoint,
            method,
            url,
            headers or {},
            body,
            content_length,
            follow_redirects,
        )
        authorization = self._authorize(endpoint, scopes, None)
        response = send(authorization)
        if response.status != 401:
            return response
        challenge = response.header_values("WWW-Authenticate")
        response.close()
        response = send(self._authorize(endpoint, scopes, challenge))
        if response.status == 401:
            detail = _error_detail(response)
            response.close()
            raise _EndpointError(
                RegistryAuthError,
                f"access denied ({detail or 'HTTP 401'}); the repository may not "
                "exist, or may need other credentials",
                hint=f"check the name, or run `docker login {endpoint.netloc}`",
            )
        return response

    def _authorize(
        self, endpoint: Endpoint, scopes: tuple[str, ...], challenge: list[str] | None
    ) -> str | None:
        try:
            if challenge is None:
                return self._auth.authorization(
                    endpoint.netloc, scopes, verify_tls=endpoint.verify_tls
                )
            return self._auth.answer_challenge(
                endpoint.netloc, scopes, challenge, verify_tls=endpoint.verify_tls
            )
        except RegistryAuthError as exc:
            raise _EndpointError(
                RegistryAuthError, exc.message, hint=exc.hint
            ) from None

    # -- pull operations on one endpoint ------------------------------------------

    def _resolve_at(
        self, endpoint: Endpoint, ref: Reference, platform: Platform
    ) -> ResolvedImage:
        manifest, index_digest = self._platform_manifest(endpoint, ref, platform)
        config_desc = config_descriptor(manifest.document)
        config_bytes = self._fetch_small_blob(endpoint, ref.path, config_desc)
        try:
            config = json.loads(config_bytes)
        except ValueError:
            raise _EndpointError(
                RegistryError, f"image config {config_desc.digest} is not JSON"
            ) from None
        return ResolvedImage(
            reference=ref,
            pinned=ref.with_digest(manifest.digest),
            manifest_digest=manifest.digest,
            manifest=manifest.document,
            manifest_media_type=manifest.media_type,
            config=config,
            config_digest=config_desc.digest,
            layers=layer_descriptors(manifest.document),
            index_digest=index_digest,
        )

    def _pin_at(self, endpoint: Endpoint, ref: Reference, platform: Platform) -> Reference:
        manifest, _index_digest = self._platform_manifest(endpoint, ref, platform)
        return ref.with_digest(manifest.digest)

    def _platform_manifest(
        self, endpoint: Endpoint, ref: Reference, platform: Platform
    ) -> tuple[_Manifest, str | None]:
        """Return the manifest ``ref`` names for ``platform``, and its index's digest."""
        target = ref.digest or ref.tag or "latest"
        top = self._fetch_manifest(endpoint, ref.path, target, ref.digest)
        if not is_index(top.media_type):
            return top, None
        entry = select_platform(top.document, platform, str(ref))
        manifest = self._fetch_manifest(endpoint, ref.path, entry.digest, entry.digest)
        if is_index(manifest.media_type):
            # NOTE: an index nested in an index is rejected, although the
            # OCI image spec allows it.
            raise _EndpointError(
                RegistryError, f"index entry {entry.digest} is itself an index"
            )
        return manifest, top.digest

    def _fetch_manifest(
        self, endpoint: Endpoint, path: str, target: str, expected_digest: str | None
    ) -> _Manifest:
        url = endpoint.url(f"/{path}/manifests/{target}")
        headers = {"Accept": ", ".join(ACCEPTED_MANIFEST_TYPES)}
        scopes = (_scope(endpoint, path, "pull"),)
        with self._request(endpoint, "GET", url, scopes, headers=headers) as response:
            _expect(response, (200,))
            data = _read(response, MAX_MANIFEST_SIZE)
            content_type = response.header("Content-Type")
            served_digest = response.header("Docker-Content-Digest")
        try:
            document, media_type = parse_manifest(data, content_type)
        except InvalidManifest as exc:
            raise _EndpointError(
                RegistryError, f"invalid manifest {target}: {exc}"
            ) from None
        digest = _verified_digest(
            data, expected_digest, served_digest, f"manifest {target}"
        )
        return _Manifest(data, document, media_type, digest)

    def _fetch_small_blob(
        self, endpoint: Endpoint, path: str, descriptor: Descriptor
    ) -> bytes:
        if descriptor.size > MAX_CONFIG_SIZE:
            raise _EndpointError(
                RegistryError,
                f"blob {descriptor.digest} is {descriptor.size} bytes, over the "
                f"{MAX_CONFIG_SIZE}-byte limit for image configs",
            )
        url = endpoint.url(f"/{path}/blobs/{descriptor.digest}")
        scopes = (_scope(endpoint, path, "pull"),)
        with self._request(
            endpoint, "GET", url, scopes, follow_redirects=True
        ) as response:
            _expect(response, (200,))
            data = _read(
                response, descriptor.size if descriptor.size > 0 else MAX_CONFIG_SIZE
            )
        _verify_blob(
            descriptor,
            len(data),
            compute_digest(data, digest_algorithm(descriptor.digest)),
        )
        return data

    def _download(
        self,
        endpoint: Endpoint,
        path: str,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None,
    ) -> None:
        attempts = self._retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                self._download_once(endpoint, path, descriptor, dest, on_progress)
                return
            except TransportError as exc:
                if attempt == attempts or not exc.retryable:
                    raise _EndpointError(RegistryUnreachable, exc.reason) from None
                log.info(
                    "download of %s broke off (%s); attempt %d of %d",
                    descriptor.digest,
                    exc.reason,
                    attempt + 1,
                    attempts,
                )
                self._transport.pause(attempt)

    def _download_once(
        self,
        endpoint: Endpoint,
        path: str,
        descriptor: Descriptor,
        dest: Path,
        on_progress: Callable[[int, int | None], None] | None,
    ) -> None:
        url = endpoint.url(f"/{path}/blobs/{descriptor.digest}")
        scopes = (_scope(endpoint, path, "pull"),)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"
        )
        try:
            with os.fdopen(fd, "wb") as out:
                with self._request(
                    endpoint, "GET", url, scopes, follow_redirects=True
                ) as response:
                    _expect(response, (200,))
                    written, digest = _stream(response, out, descriptor, on_progress)
                out.flush()
                os.fsync(out.fileno())
            _verify_blob(descriptor, written, digest)
            os.replace(temp_name, dest)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    # -- push operations on one endpoint ------------------------------------------

    def _blob_exists_at(
        self, endpoint: Endpoint, path: str, digest: str, scopes: tuple[str, ...]
    ) -> bool:
        url = endpoint.url(f"/{path}/blobs/{digest}")
        with self._request(
            endpoint, "HEAD", url, scopes, follow_redirects=True
        ) as response:
            if response.status == 404:
                return False
            _expect(response, (200,))
            return True

    def _upload_at(self, endpoint: Endpoint, path: str, upload: _Upload) -> None:
        if self._blob_exists_at(endpoint, path, upload.digest, upload.scopes):
            log.debug("blob %s already in %s/%s", upload.digest, endpoint.label, path)
            return
        attempts = self._retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                self._upload_once(endpoint, path, upload)
                return
            except _EndpointError as exc:
                if attempt == attempts or not exc.retryable:
                    raise
                log.info(
                    "upload of %s failed (%s); attempt %d of %d",
                    upload.digest,
                    exc.reason,
                    attempt + 1,
                    attempts,
                )
                self._transport.pause(attempt)

    def _upload_once(self, endpoint: Endpoint, path: str, upload: _Upload) -> None:
        location = self._start_upload(endpoint, path, upload)
        if location is None:
            return
        if upload.size <= self._chunk_size:
            final = _with_query(location, digest=upload.digest)
            self._finish_upload(endpoint, final, upload, upload.open_blob, upload.size)
            return
        location = self._send_chunks(endpoint, location, upload)
        self._finish_upload(
            endpoint, _with_query(location, digest=upload.digest), upload, None, None
        )

    def _start_upload(
        self, endpoint: Endpoint, path: str, upload: _Upload
    ) -> str | None:
        query = ""
        if upload.mount_from is not None:
            query = "?" + urlencode({"mount": upload.digest, "from": upload.mount_from})
        url = endpoint.url(f"/{path}/blobs/uploads/{query}")
        with self._request(endpoint, "POST", url, upload.scopes) as response:
            if response.status == 201 and upload.mount_from is not None:
                log.debug("mounted %s from %s", upload.digest, upload.mount_from)
                return None
            _expect(response, (202,))
            location = response.header("Location")
        if not location:
            raise _EndpointError(
                RegistryError, "the upload response has no Location header"
            )
        return urljoin(url, location)

    def _send_chunks(self, endpoint: Endpoint, location: str, upload: _Upload) -> str:
        offset = 0
        with upload.open_blob() as source:
            while offset < upload.size:
                chunk = source.read(min(self._chunk_size, upload.size - offset))
                if not chunk:
                    raise _EndpointError(
                        RegistryError,
                        f"the blob source ended after {offset} of {upload.size} bytes",
                    )
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                }
                with self._request(
                    endpoint,
                    "PATCH",
                    location,
                    upload.scopes,
                    headers=headers,
                    body=chunk,
                    content_length=len(chunk),
                ) as response:
                    _expect(response, (202,))
                    location = urljoin(
                        location, response.header("Location") or location
                    )
                offset += len(chunk)
        return location

    def _finish_upload(
        self,
        endpoint: Endpoint,
        url: str,
        upload: _Upload,
        body: Callable[[], BinaryIO] | None,
        size: int | None,
    ) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        with self._request(
            endpoint,
            "PUT",
            url,
            upload.scopes,
            headers=headers,
            body=body,
            content_length=size,
        ) as response:
            _expect(response, (201, 204))
            served = response.header("Docker-Content-Digest")
        if served and served != upload.digest:
            raise _EndpointError(
                RegistryError,
                f"the registry stored {served} instead of {upload.digest}",
            )

    def _put_manifest_at(
        self,
        endpoint: Endpoint,
        path: str,
        target: str,
        data: bytes,
        media_type: str,
        digest: str,
    ) -> None:
        url = endpoint.url(f"/{path}/manifests/{target}")
        scopes = (_scope(endpoint, path, "pull,push"),)
        headers = {"Content-Type": media_type}
        with self._request(
            endpoint,
            "PUT",
            url,
            scopes,
            headers=headers,
            body=data,
            content_length=len(data),
        ) as response:
            _expect(response, (200, 201))
            served = response.header("Docker-Content-Digest")
        if served and served != digest:
            raise _EndpointError(
                RegistryError,
                f"the registry stored manifest {served} instead of {digest}",
            )


@dataclass(frozen=True)
class _Upload:
    digest: str
    size: int
    open_blob: Callable[[], BinaryIO]
    mount_from: str | None
    scopes: tuple[str, ...]


class _Sender:
    """Sends one request again and again with a varying Authorization header."""

    def __init__(
        self,
        transport: Transport,
        endpoint: Endpoint,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Body,
        content_length: int | None,
        follow_redirects: bool,
    ) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.content_length = content_length
        self.follow_redirects = follow_redirects

    def __call__(self, authorization: str | None) -> Response:
        headers = dict(self.headers)
        # Upload locations may point elsewhere; credentials stay with the endpoint.
        if authorization and _same_origin(self.url, self.endpoint):
            headers["Authorization"] = authorization
        try:
            return self.transport.request(
                self.method,
                self.url,
                headers=headers,
                body=self.body,
                content_length=self.content_length,
                verify_tls=self.endpoint.verify_tls,
                follow_redirects=self.follow_redirects,
            )
        except TransportError as exc:
            raise _EndpointError(
                RegistryUnreachable, exc.reason, retryable=exc.retryable
            ) from None


def _scope(endpoint: Endpoint, path: str, actions: str) -> str:
    prefix = endpoint.base_path[len("/v2") :].strip("/")
    name = f"{prefix}/{path}" if prefix else path
    return f"repository:{name}:{actions}"


def _mount_source(ref: Reference, mount_from: Reference | None) -> str | None:
    if mount_from is None:
        return None
    if canonical_host(mount_from.domain) != canonical_host(ref.domain):
        return None
    return None if mount_from.path == ref.path else mount_from.path


def _same_origin(url: str, endpoint: Endpoint) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme == endpoint.scheme
        and parts.netloc.lower() == endpoint.netloc.lower()
    )


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _attempt_text(endpoint: Endpoint, failure: _EndpointError) -> str:
    # Reasons from the Authorizer already name the host.
    if endpoint.netloc in failure.reason:
        return failure.reason
    return f"{_describe(endpoint)}: {failure.reason}"


def _describe(endpoint: Endpoint) -> str:
    return (
        f"mirror {endpoint.label}"
        if endpoint.mirror_of
        else f"registry {endpoint.label}"
    )


def _expect(response: Response, statuses: tuple[int, ...]) -> None:
    if response.status in statuses:
        return
    detail = _error_detail(response)
    status = response.status
    suffix = f": {detail}" if detail else ""
    if status == 404:
        raise _EndpointError(ImageNotFound, "not found" + suffix)
    if status in (401, 403):
        raise _EndpointError(
            RegistryAuthError,
            f"access denied (HTTP {status}{suffix})",
            hint="check that your login has the needed access to the repository",
        )
    raise _EndpointError(
        RegistryError,
        f"HTTP {status} for {response.method} {redact_url(response.url)}{suffix}",
        retryable=status in RETRY_STATUSES or status == 429,
    )


def _error_detail(response: Response) -> str:
    """Return the registry's error codes and messages from a failed answer's body."""
    try:
        body = response.read(MAX_ERROR_BODY)
        errors = json.loads(body).get("errors") or []
    except (TransportError, ResponseTooLarge, ValueError, AttributeError):
        return ""
    texts = []
    for error in errors[:3]:
        if isinstance(error, dict):
            code, message = error.get("code", ""), error.get("message", "")
            texts.append(
                f"{code}: {message}" if code and message else str(code or message)
            )
    return "; ".join(texts)[:300]


def _read(response: Response, limit: int) -> bytes:
    try:
        return response.read(limit)
    except ResponseTooLarge as exc:
        raise _EndpointError(RegistryError, str(exc)) from None
    except TransportError as exc:
        raise _EndpointError(RegistryUnreachable, exc.reason, retryable=True) from None


def _stream(
    response: Response,
    out: BinaryIO,
    descriptor: Descriptor,
    on_progress: Callable[[int, int | None], None] | None,
) -> tuple[int, str]:
    """Copy the body to ``out``; return the byte count and the digest of the bytes."""
    algorithm = digest_algorithm(descriptor.digest)
    hasher = hashlib.new(algorithm)
    total = descriptor.size if descriptor.size > 0 else _content_length(response)
    written = 0
    for chunk in response.iter_chunks():
        written += len(chunk)
        if descriptor.size > 0 and written > descriptor.size:
            raise _EndpointError(
                RegistryError,
                f"blob {descriptor.digest} is larger than the {descriptor.size} bytes "
                "its descriptor gives",
            )
        hasher.update(chunk)
        out.write(chunk)
        if on_progress is not None:
            on_progress(written, total)
    return written, f"{algorithm}:{hasher.hexdigest()}"


def _content_length(response: Response) -> int | None:
    value = response.header("Content-Length")
    return int(value) if value and value.isdigit() else None


def _verify_blob(descriptor: Descriptor, size: int, digest: str) -> None:
    if descriptor.size > 0 and size != descriptor.size:
        raise _EndpointError(
            RegistryError,
            f"blob {descriptor.digest} has {size} bytes, expected {descriptor.size}",
        )
    if digest != descriptor.digest:
        raise _EndpointError(
            RegistryError, f"blob {descriptor.digest} arrived with digest {digest}"
        )


def _verified_digest(
    data: bytes, expected: str | None, served: str | None, what: str
) -> str:
    if expected is not None:
        if not matches_digest(data, expected):
            actual = compute_digest(data, digest_algorithm(expected))
            raise _EndpointError(RegistryError, f"{what} arrived with digest {actual}")
        return expected
    digest = compute_digest(data)
    if served and served.startswith("sha256:") and served != digest:
        raise _EndpointError(
            RegistryError,
            f"{what} has digest {digest} but the registry announced {served}",
        )
    return digest
