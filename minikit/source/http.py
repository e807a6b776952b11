"""HTTP sources for ``ADD https://...``: download, verify, key on the content.

The file is downloaded when the cache key is computed, so the key is the
digest of what the server returned (or the ``--checksum`` given, which the
download must match). Credentials come from the secrets
``HTTP_AUTH_HEADER_<hostname>`` (sent verbatim) and ``HTTP_AUTH_TOKEN_<hostname>``
(sent as ``Bearer <token>``; it wins over the header), as in BuildKit.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from minikit.errors import HTTPSourceError
from minikit.util.redact import redact_url

# Seconds to wait for the server.
HTTP_TIMEOUT = 60
_CHUNK = 1 << 20
UNNAMED = "__unnamed__"


@dataclass(frozen=True)
class Download:
    """A downloaded file: where it is, its digest and the name it gets."""

    path: Path
    digest: str
    filename: str


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    """Follow redirects, dropping the Authorization header when the host changes."""

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            new.headers.pop("Authorization", None)
            new.unredirected_hdrs.pop("Authorization", None)
        return new


class HTTPSource:
    """Downloads ``ADD`` URLs once per build into a scratch folder."""

    def __init__(self, secrets: Any, scratch: Path) -> None:
        self.secrets = secrets
        self.scratch = scratch
        self._downloads: dict[str, Download] = {}
        self._lock = threading.Lock()

    def download(self, url: str, checksum: str = "") -> Download:
        """Download ``url`` (once per build) and check it against ``checksum``."""
        with self._lock:
            cached = self._downloads.get(url)
        if cached is None:
            cached = self._fetch(url)
            with self._lock:
                self._downloads[url] = cached
        if checksum and cached.digest != checksum:
            raise HTTPSourceError(
                f"digest mismatch for {redact_url(url)}: expected {checksum}, got "
                f"{cached.digest}",
                hint="update --checksum to the digest of the file you expect",
            )
        return cached

    def _fetch(self, url: str) -> Download:
        request = urllib.request.Request(url, headers={"User-Agent": "minikit"})
        header = self._auth(url)
        if header:
            request.add_unredirected_header("Authorization", header)
        opener = urllib.request.build_opener(_NoRedirectAuth)
        folder = Path(tempfile.mkdtemp(prefix="http-", dir=self.scratch))
        target = folder / "download"
        try:
            with (
                opener.open(request, timeout=HTTP_TIMEOUT) as response,
                open(target, "wb") as out,
            ):
                hasher = hashlib.sha256()
                received = 0
                while chunk := response.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                _check_length(url, response.headers.get("Content-Length"), received)
                filename = download_name(url)
        except HTTPSourceError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        except urllib.error.HTTPError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPSourceError(
                f"failed to download {redact_url(url)}: HTTP {exc.code} {exc.reason}",
                hint="check the URL; for a private server pass --secret "
                "id=HTTP_AUTH_TOKEN_<host>",
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            reason = getattr(exc, "reason", exc)
            raise HTTPSourceError(
                f"failed to download {redact_url(url)}: {reason}",
                hint="check the URL and the network",
            ) from None
        return Download(target, "sha256:" + hasher.hexdigest(), filename)

    def _auth(self, url: str) -> str:
        host = urlsplit(url).hostname or ""
        token = self.secrets.get(f"HTTP_AUTH_TOKEN_{host}")
        if token is not None:
            return "Bearer " + token.decode("utf-8", "replace").strip()
        header = self.secrets.get(f"HTTP_AUTH_HEADER_{host}")
        if header is not None:
            return header.decode("utf-8", "replace").strip()
        return ""

    def place(self, download: Download, dest: Path, mode: int = 0o600) -> str:
        """Copy the download into the folder ``dest`` under its name; return the "
        "name."""
        target = dest / download.filename
        shutil.copyfile(download.path, target)
        os.chmod(target, mode)
        return download.filename


def _check_length(url: str, declared: str | None, received: int) -> None:
    """Reject a download that ended before its declared Content-Length."""
    if declared is None or not declared.strip().isdigit():
        return
    expected = int(declared)
    if received != expected:
        raise HTTPSourceError(
            f"failed to download {redact_url(url)}: received {received} of "
            f"{expected} bytes",
            hint="the connection ended early; try again, or check the server",
        )


def download_name(url: str) -> str:
    """Return the last path segment of ``url``, or ``__unnamed__``, as BuildKit "
    "names downloads."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    return name if name and name not in (".", "..") else UNNAMED
