"""Fixtures shared by the frontend tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minikit.frontend.parser import line


@pytest.fixture(params=["fast-path", "grammar-only"])
def line_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test once with the regex fast path and once with every line on the grammar."""
    saved = line.use_fast_path
    line.use_fast_path = request.param == "fast-path"
    yield request.param
    line.use_fast_path = saved
