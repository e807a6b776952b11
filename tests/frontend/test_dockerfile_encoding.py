"""The UTF-8 text check that a build runs before it parses a Dockerfile."""

import pytest

from minikit.errors import DockerfileParseError
from minikit.frontend.encoding import check_text


def _fault(data: bytes) -> DockerfileParseError:
    with pytest.raises(DockerfileParseError) as caught:
        check_text(data, "Dockerfile")
    return caught.value


@pytest.mark.parametrize(
    "data",
    [b"", b"FROM scratch\n", "FROM scratch\nLABEL a=caf\u00e9 \u2603\n".encode()],
)
def test_text_accepted(data):
    check_text(data)


def test_invalid_byte_named():
    error = _fault(b"FROM scratch\nLABEL a=caf\xe9\n")
    assert error.message == "failed to read dockerfile: invalid UTF-8 byte 0xe9"


def test_invalid_byte_located():
    error = _fault("FROM scratch\nLABEL \u00e9=caf\xe9\n".encode("latin-1"))
    assert (error.location.line, error.location.column) == (2, 7)


def test_column_counts_characters():
    error = _fault("FROM scratch\nLABEL \u00e9=".encode() + b"\xff\n")
    assert error.location.column == 9


def test_snippet_lines_are_text():
    error = _fault(b"FROM scratch\nCOPY \xff /x\n")
    assert error.location.lines[1] == "COPY \ufffd /x"


def test_nul_byte_rejected():
    error = _fault(b"FROM scratch\nRUN a\x00b\n")
    assert "NUL byte" in error.message
    assert (error.location.line, error.location.column) == (2, 6)


def test_first_fault_wins():
    error = _fault(b"FROM \x00\nRUN \xff\n")
    assert "NUL byte" in error.message


def test_utf16_hint():
    error = _fault("FROM scratch\n".encode("utf-16"))
    assert "UTF-16" in error.hint


def test_latin1_hint():
    error = _fault(b"# caf\xe9\nFROM scratch\n")
    assert "iconv" in error.hint
