"""One implementation per graph op: source, exec, file and merge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikit.ops.resolver import Resolver
    from minikit.ops.services import OpServices

__all__ = ["OpServices", "Resolver"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so exporting a remembered build loads no op code.
    if name == "Resolver":
        from minikit.ops.resolver import Resolver

        return Resolver
    if name == "OpServices":
        from minikit.ops.services import OpServices

        return OpServices
    raise AttributeError(f"module 'minikit.ops' has no attribute {name!r}")
