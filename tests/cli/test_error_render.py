"""Error reports stay printable whatever bytes the message or the snippet holds."""

import io

from minikit.cli.errors import render_error
from minikit.errors import DockerfileParseError, SourceLocation


def _strict_stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict")


def _render(error, stream) -> str:
    render_error(error, stream)
    stream.flush()
    return stream.buffer.getvalue().decode(stream.encoding)


def test_surrogates_replaced():
    error = DockerfileParseError("unknown instruction: \udcff\udcfe")
    text = _render(error, _strict_stream("utf-8"))
    assert "unknown instruction: \ufffd\ufffd" in text


def test_unencodable_replaced():
    error = DockerfileParseError("bad value 'caf\u00e9'", hint="use \u2192 ASCII")
    text = _render(error, _strict_stream("ascii"))
    assert "bad value 'caf?'" in text
    assert "hint: use ? ASCII" in text


def test_snippet_hides_control_bytes():
    lines = ("FROM scratch", "COPY a\x00\x1b[2J /x")
    location = SourceLocation("Dockerfile", 2, column=7, end_column=8, lines=lines)
    error = DockerfileParseError("it contains a NUL byte", location=location)
    text = _render(error, _strict_stream("utf-8"))
    assert "COPY a\ufffd\ufffd[2J /x" in text
    assert "\x00" not in text
