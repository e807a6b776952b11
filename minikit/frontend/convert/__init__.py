"""Dockerfile -> build graph conversion (BuildKit's dockerfile2llb)."""

from minikit.frontend.convert.converter import Converter, ConvertResult
from minikit.frontend.convert.options import ConvertOptions, NamedContext

__all__ = ["ConvertOptions", "ConvertResult", "Converter", "NamedContext"]
