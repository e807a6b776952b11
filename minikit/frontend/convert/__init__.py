"""Dockerfile -> build graph conversion (BuildKit's dockerfile2llb)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikit.frontend.convert.options import ConvertOptions, NamedContext

if TYPE_CHECKING:
    from minikit.frontend.convert.converter import Converter, ConvertResult

__all__ = ["ConvertOptions", "ConvertResult", "Converter", "NamedContext"]


def __getattr__(name: str) -> Any:
    # The converter loads on first use: the CLI and the build memo only need
    # the option types.
    if name in ("Converter", "ConvertResult"):
        from minikit.frontend.convert import converter

        return getattr(converter, name)
    raise AttributeError(f"module 'minikit.frontend.convert' has no attribute {name!r}")
