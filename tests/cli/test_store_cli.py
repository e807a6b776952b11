"""Flag values of ``minikit prune``: durations and sizes."""

import pytest

from minikit.cli.store import parse_duration, parse_size
from minikit.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("24h", 86400), ("1h30m", 5400), ("7d", 604800)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["24", "h", "1x"])
def test_bad_durations(text):
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MB", 512_000_000), ("5GB", 5_000_000_000), ("1GiB", 1 << 30), ("100", 100)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


def test_bad_size():
    with pytest.raises(UsageError):
        parse_size("lots")
