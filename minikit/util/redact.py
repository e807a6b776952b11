"""Removing credentials from text before it reaches a message or a log line."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Return ``url`` without user info or query string, safe for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme:
        return url.rpartition("@")[2] if "://" not in url and "@" in url.split(":", 1)[0] else url
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_values(text: str, values: list[bytes]) -> str:
    """Replace every occurrence of a secret value in ``text`` with ``****``."""
    for value in sorted(values, key=len, reverse=True):
        decoded = value.decode("utf-8", "replace")
        for candidate in (decoded, decoded.strip()):
            if len(candidate) >= 4:
                text = text.replace(candidate, "****")
    return text
