"""The text check a build runs on a Dockerfile before it parses it.

The parser itself keeps undecodable bytes, as BuildKit's Go parser does, so
``minikit debug parse`` dumps any file. A build cannot: instructions end up in
JSON digests, image configs and argv, which all need text. So a build rejects
a Dockerfile that is not UTF-8 text, or that contains a NUL byte, at the first
offending byte.
"""

from __future__ import annotations

from minikit.errors import DockerfileParseError, SourceLocation

# Byte order marks that mean the file is UTF-16, as Windows tools write it.
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def check_text(data: bytes, filename: str = "Dockerfile") -> None:
    """Raise DockerfileParseError at the first invalid UTF-8 byte or NUL byte."""
    offset, problem = _first_fault(data)
    if offset < 0:
        return
    if problem == "nul":
        message = "failed to read dockerfile: it contains a NUL byte"
        hint = (
            "a Dockerfile is text: check that -f names the Dockerfile and not "
            "a binary file"
        )
    else:
        message = f"failed to read dockerfile: invalid UTF-8 byte 0x{data[offset]:02x}"
        hint = _encoding_hint(data)
    raise DockerfileParseError(
        message, hint=hint, location=_location(data, offset, filename)
    )


def _first_fault(data: bytes) -> tuple[int, str]:
    """Return the offset and kind of the first fault, or (-1, "") for none."""
    nul = data.find(b"\0")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if nul < 0 or error.start < nul:
            return error.start, "utf-8"
    if nul >= 0:
        return nul, "nul"
    return -1, ""


def _encoding_hint(data: bytes) -> str:
    if data.startswith(_UTF16_MARKS):
        return (
            "the file is UTF-16: save it as UTF-8, for example with "
            "`iconv -f utf-16 -t utf-8`"
        )
    return (
        "save the Dockerfile as UTF-8, for example with "
        "`iconv -f latin1 -t utf-8`, or check that -f names a text file"
    )


def _location(data: bytes, offset: int, filename: str) -> SourceLocation:
    line = data.count(b"\n", 0, offset) + 1
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    lines = tuple(data.decode("utf-8", "replace").split("\n"))
    return SourceLocation(
        filename, line, column=column, end_column=column + 1, lines=lines
    )
