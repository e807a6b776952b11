"""Progress renderers: plain's BuildKit format, rawjson's events, quiet, tty."""

import io
import json

import pytest

from minikit.cli.progress import (
    PlainProgress,
    QuietProgress,
    RawJSONProgress,
    format_size,
    make_progress,
)
from minikit.progress import (
    VertexCached,
    VertexCompleted,
    VertexLog,
    VertexStarted,
    VertexStatus,
)


def _plain(events):
    out = io.StringIO()
    renderer = PlainProgress(out)
    for event in events:
        renderer.emit(event)
    return out.getvalue()


def test_plain_numbers_and_done():
    text = _plain(
        [
            VertexStarted("v1", "[1/2] RUN a", 10.0),
            VertexCompleted("v1", "[1/2] RUN a", 10.0, 10.4),
        ]
    )
    assert text == "#1 [1/2] RUN a\n#1 DONE 0.4s\n"


def test_plain_cached():
    text = _plain(
        [
            VertexCached("v1", "[1/2] FROM x", 1.0),
            VertexCompleted("v1", "[1/2] FROM x", 1.0, 1.0, cached=True),
        ]
    )
    assert text == "#1 [1/2] FROM x\n#1 CACHED\n"


def test_plain_log_lines_have_offsets():
    text = _plain(
        [
            VertexStarted("v1", "RUN a", 10.0),
            VertexLog("v1", b"hello\nwor", 1, 10.25),
            VertexLog("v1", b"ld\n", 1, 10.5),
        ]
    )
    assert text.splitlines()[1:] == ["#1 0.250 hello", "#1 0.500 world"]


def test_plain_blank_line_between_vertices():
    text = _plain([VertexStarted("v1", "a", 1.0), VertexStarted("v2", "b", 1.0)])
    assert text == "#1 a\n\n#2 b\n"


def test_plain_cancelled():
    text = _plain(
        [
            VertexStarted("v1", "a", 1.0),
            VertexCompleted("v1", "a", 1.0, 2.0, error="cancelled", cancelled=True),
        ]
    )
    assert text.splitlines()[-1] == "#1 CANCELED"


def test_plain_error():
    text = _plain(
        [
            VertexStarted("v1", "a", 1.0),
            VertexCompleted("v1", "a", 1.0, 2.0, error="exit code: 1"),
        ]
    )
    assert text.splitlines()[-1] == "#1 ERROR: exit code: 1"


def test_plain_transfer_shows_done_and_total():
    text = _plain(
        [
            VertexStarted("v1", "FROM x", 1.0),
            VertexStatus("v1", "sha256:ab", 2_000_000, 2_150_000, True, 1.5),
        ]
    )
    assert text.splitlines()[-1] == "#1 sha256:ab 2.00MB / 2.15MB 0.5s done"


def test_plain_transfer_updates_are_throttled():
    events = [VertexStarted("v1", "FROM x", 1.0)]
    events += [
        VertexStatus("v1", "sha256:ab", n * 1000, 10_000, False, 1.0 + n / 100)
        for n in range(10)
    ]
    assert len(_plain(events).splitlines()) == 2


def test_rawjson_one_object_per_event():
    out = io.StringIO()
    renderer = RawJSONProgress(out)
    renderer.emit(VertexStarted("v1", "a", 1.0))
    renderer.emit(VertexLog("v1", b"x\n", 2, 1.1))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["type"] for line in lines] == ["VertexStarted", "VertexLog"]


def test_rawjson_error_event():
    out = io.StringIO()
    RawJSONProgress(out).emit(VertexCompleted("v1", "a", 1.0, 2.0, error="boom"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[1] == {
        "type": "VertexError",
        "vertex": "v1",
        "name": "a",
        "error": "boom",
        "time": 2.0,
    }


def test_quiet_writes_nothing(capsys):
    QuietProgress().emit(VertexStarted("v1", "a", 1.0))
    assert capsys.readouterr() == ("", "")


def test_auto_is_plain_off_a_terminal():
    assert isinstance(make_progress("auto", io.StringIO()), PlainProgress)


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0B"), (999, "999B"), (1_090_000, "1.09MB"), (2_500_000_000, "2.50GB")],
)
def test_sizes(count, text):
    assert format_size(count) == text


def test_tty_draws_finished_steps():
    pytest.importorskip("rich")
    from minikit.cli.tty import TTYProgress

    out = io.StringIO()
    renderer = TTYProgress(out)
    renderer.emit(VertexStarted("v1", "[1/2] RUN a", 1.0))
    renderer.emit(VertexCompleted("v1", "[1/2] RUN a", 1.0, 1.5))
    renderer.emit(VertexCached("v2", "[2/2] RUN b", 1.0))
    renderer.close()
    text = out.getvalue()
    assert " => [1/2] RUN a  0.5s" in text
    assert " => CACHED [2/2] RUN b" in text
