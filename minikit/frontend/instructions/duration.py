"""Go's ``time.ParseDuration``, for HEALTHCHECK intervals."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
# Go stores durations as int64 nanoseconds.
_MAX_SECONDS = (2**63 - 1) / 1e9


class DurationError(ValueError):
    """A duration string that ``time.ParseDuration`` rejects."""


def parse_duration(text: str) -> float:
    """Return the duration ``text`` (like ``1h30m`` or ``1.5s``) in seconds."""
    quoted = '"' + text + '"'
    body = text
    sign = 1.0
    if body[:1] in ("-", "+"):
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if body == "":
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _PART.match(body, pos)
        number, unit = match.group(1), match.group(2)  # type: ignore[union-attr]
        if number in ("", ".") or match.end() == pos:  # type: ignore[union-attr]
            raise DurationError(f"time: invalid duration {quoted}")
        if unit == "":
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _UNITS[unit]
        pos = match.end()  # type: ignore[union-attr]
    if total > _MAX_SECONDS:
        raise DurationError(f"time: invalid duration {quoted}")
    return sign * total


def format_duration(seconds: float) -> str:
    """Return ``seconds`` as Go's ``time.Duration.String`` prints it, e.g. ``1m30s``."""
    nanos = round(abs(seconds) * 1e9)
    sign = "-" if seconds < 0 else ""
    if nanos == 0:
        return "0s"
    if nanos < 1000:
        return f"{sign}{nanos}ns"
    if nanos < 10**6:
        fraction, whole = _fraction(nanos, 3)
        return f"{sign}{whole}{fraction}\u00b5s"
    if nanos < 10**9:
        fraction, whole = _fraction(nanos, 6)
        return f"{sign}{whole}{fraction}ms"
    fraction, whole = _fraction(nanos, 9)
    text = f"{whole % 60}{fraction}s"
    minutes = whole // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _fraction(value: int, precision: int) -> tuple[str, int]:
    """Split ``value`` into ``.digits`` (trailing zeros dropped) and the whole part."""
    digits = str(value % 10**precision).rjust(precision, "0").rstrip("0")
    return ("." + digits if digits else ""), value // 10**precision
