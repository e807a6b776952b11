"""Time minikit's Dockerfile parser against BuildKit's Go parser, side by side.

Usage::

    python3 tests/frontend/measure_parse.py PATH/TO/Dockerfile [--reps 20]

The Go parser is the one that PyPI's ``dockerfile`` package wraps
(``pip install dockerfile``; ``dockerfile.parse_string``). Both parsers read
the same text. The script prints the median and minimum of ``--reps`` timed
runs after one untimed warm-up run each. It also prints how many
instructions each parser returned and how many lines took minikit's grammar
path. This file is not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def timed(function: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    """Run ``function`` once untimed, then ``reps`` times; return seconds and the result."""
    result = function()
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def main(argv: list[str]) -> int:
    """Parse the command line, time both parsers and print a table."""
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("dockerfile", type=Path)
    options.add_argument("--reps", type=int, default=20)
    args = options.parse_args(argv)

    from minikit.frontend.parser import line, parse

    data = args.dockerfile.read_bytes()
    rows = []
    before = line.grammar_lines
    seconds, result = timed(lambda: parse(data), args.reps)
    grammar_lines = (line.grammar_lines - before) // (args.reps + 1)
    rows.append(("minikit", len(result.instructions), seconds))
    try:
        import dockerfile
    except ImportError:
        print("dockerfile is not installed: pip install dockerfile", file=sys.stderr)
    else:
        text = data.decode("utf-8")
        seconds, commands = timed(lambda: dockerfile.parse_string(text), args.reps)
        rows.append(("dockerfile (Go parser)", len(commands), seconds))

    line_count = data.count(b"\n")
    print(f"{args.dockerfile}: {line_count} lines, {args.reps} timed runs")
    print(f"minikit lines on the grammar path: {grammar_lines}")
    print("| parser | instructions | median ms | min ms |")
    print("|---|---:|---:|---:|")
    for name, count, runs in rows:
        median = statistics.median(runs) * 1e3
        print(f"| {name} | {count} | {median:.2f} | {min(runs) * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
