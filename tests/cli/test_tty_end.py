"""The tty view ends its last line, so what the CLI prints next starts on a new one."""

import io

import pytest

from minikit.progress import VertexCompleted, VertexStarted


def test_tty_view_ends_with_newline():
    pytest.importorskip("rich")
    from minikit.cli.tty import TTYProgress

    out = io.StringIO()
    renderer = TTYProgress(out)
    renderer.emit(VertexStarted("v1", "[1/1] RUN a", 1.0))
    renderer.emit(VertexCompleted("v1", "[1/1] RUN a", 1.0, 1.5))
    renderer.close()
    assert out.getvalue().endswith("0.5s\n")
