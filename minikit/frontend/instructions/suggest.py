"""Did-you-mean suggestions for misspelled keywords, flags and option names."""

from __future__ import annotations

from collections.abc import Iterable

# A suggestion must be fewer than this many single-character edits away.
_MAX_DISTANCE = 3


def levenshtein(left: str, right: str) -> int:
    """Return the Levenshtein distance between two strings."""
    if len(left) < len(right):
        left, right = right, left
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, start=1):
        current = [i]
        for j, b in enumerate(right, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            )
        previous = current
    return previous[-1]


def suggest(value: str, options: Iterable[str], case_sensitive: bool) -> str | None:
    """Return the closest option to ``value``, or None when none is close.

    An exact match returns None, because the error was then about something
    else. Without ``case_sensitive`` the comparison ignores case and the
    suggestion copies the case of ``value`` when that is all lower or upper.
    """
    probe = value if case_sensitive else value.lower()
    best: str | None = None
    best_distance = _MAX_DISTANCE
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == probe:
            return None
        distance = levenshtein(probe, candidate)
        if distance < best_distance:
            best, best_distance = candidate, distance
    if best is None or case_sensitive:
        return best
    if value == value.upper() and value != value.lower():
        return best.upper()
    return best


def did_you_mean(
    value: str, options: Iterable[str], case_sensitive: bool
) -> str | None:
    """Return ``"did you mean X?"`` for the closest option, or None."""
    match = suggest(value, options, case_sensitive)
    return f"did you mean {match}?" if match else None
