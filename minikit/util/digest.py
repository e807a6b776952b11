"""Canonical JSON and sha256 digests, the identity of everything minikit stores."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` with sorted keys and no whitespace, so equal data gives equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    """Return ``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of(value: Any) -> str:
    """Return the sha256 digest of the canonical JSON of ``value``."""
    return sha256_digest(canonical_json(value))


def hex_of(digest: str) -> str:
    """Return the hex part of ``sha256:<hex>``; raise ValueError for another algorithm."""
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or len(hexpart) != 64:
        raise ValueError(f"unsupported digest {digest!r}: expected sha256:<64 hex digits>")
    int(hexpart, 16)
    return hexpart
