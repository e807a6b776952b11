#!/usr/bin/env python3
"""Time Dockerfile parsing in one process: minikit against two PyPI parsers.

  $BENCH_MINIKIT/venv/bin/python parse-peers.py [--reps N] [--json FILE] [DOCKERFILE...]

Parsers, each timed in this process (median of --reps calls, the first call included):
  dockerfile        a CPython extension around BuildKit's Go parser (parse_string)
  dockerfile-parse  pure Python (DockerfileParser(fileobj=...).structure)
  minikit parse     minikit.frontend.parser.parse, the step that the Go parser matches
  minikit convert   minikit.worker.inspect.definition_of: parse, build checks, typing,
                    conversion to the build graph and marshalling; it also resolves the
                    target stage's base image config from the loopback registry
Then the CLI, each as a new process (median wall time and max RSS of --reps runs):
  python -c pass, minikit --version, minikit debug parse FILE,
  minikit debug dump-llb -f FILE DIR (DIR is the folder of FILE)
Default files: cases/b1-parse/Dockerfile (2,000 instructions) and cases/b0-trivial/Dockerfile.
Run it with the venv that setup-minikit.sh makes: it has minikit and both PyPI parsers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GNU_TIME = "/usr/bin/time"
DEFAULT_FILES = [
    HERE / "cases/b1-parse/Dockerfile",
    HERE / "cases/b0-trivial/Dockerfile",
]


def time_calls(function: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    """Call ``function`` ``reps`` times; return the durations in seconds and the last result."""
    durations, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = function()
        durations.append(time.perf_counter() - start)
    return durations, result


def time_process(argv: list[str], cwd: Path, reps: int) -> tuple[list[float], int]:
    """Run ``argv`` ``reps`` times; return wall times in seconds and the max RSS in KiB.

    GNU time reports the RSS because a child forked from this process starts with
    this process's high-water mark, which wait4's ru_maxrss would then return. Its
    own fork and exec are inside the wall time, and cost about a millisecond.
    """
    durations, max_rss = [], 0
    with tempfile.NamedTemporaryFile("r") as report:
        timed = [GNU_TIME, "-q", "-f", "%M", "-o", report.name, *argv]
        for _ in range(reps):
            start = time.perf_counter()
            completed = subprocess.run(
                timed, cwd=cwd, stdout=subprocess.DEVNULL, check=False
            )
            durations.append(time.perf_counter() - start)
            if completed.returncode != 0:
                raise SystemExit(
                    f"{' '.join(argv)} failed with status {completed.returncode}"
                )
            report.seek(0)
            max_rss = max(max_rss, int(report.read().split()[-1]))
    return durations, max_rss


def in_process_parsers(path: Path) -> list[tuple[str, Callable[[], list[str]]]]:
    """Return (label, function) pairs; each function returns the keywords it parsed."""
    import dockerfile
    import dockerfile_parse

    from minikit.cli.progress import QuietProgress
    from minikit.frontend.parser import parse
    from minikit.worker.inspect import definition_of
    from minikit.worker.request import BuildRequest

    data = path.read_bytes()
    text = data.decode()

    def go() -> list[str]:
        return [command.cmd.upper() for command in dockerfile.parse_string(text)]

    def pure_python() -> list[str]:
        parser = dockerfile_parse.DockerfileParser(fileobj=io.BytesIO(data))
        return [
            item["instruction"].upper()
            for item in parser.structure
            if item["instruction"] != "COMMENT"
        ]

    def minikit_parse() -> list[str]:
        return [item.keyword.upper() for item in parse(data, path.name).instructions]

    def minikit_convert() -> list[str]:
        request = BuildRequest(context=path.parent, dockerfile=path, cwd=path.parent)
        definition_of(request, QuietProgress())
        return minikit_parse()

    return [
        ("dockerfile (Go parser)", go),
        ("dockerfile-parse (pure Python)", pure_python),
        ("minikit parse", minikit_parse),
        ("minikit parse + convert (definition_of)", minikit_convert),
    ]


def cli_commands(path: Path) -> list[tuple[str, list[str]]]:
    """Return (label, argv) pairs for the process-level timings."""
    python = sys.executable
    minikit = str(Path(python).with_name("minikit"))
    return [
        ("python3 -c pass", [python, "-c", "pass"]),
        ("minikit --version", [minikit, "--version"]),
        ("minikit debug parse", [minikit, "debug", "parse", str(path)]),
        (
            "minikit debug dump-llb",
            [minikit, "debug", "dump-llb", "-f", str(path), str(path.parent)],
        ),
    ]


def first_difference(sequence: list[str], reference: list[str]) -> int | None:
    """Return the index where two keyword lists first differ, or None if equal."""
    if sequence == reference:
        return None
    for index, (left, right) in enumerate(zip(sequence, reference)):
        if left != right:
            return index
    return min(len(sequence), len(reference))


def measure_file(path: Path, reps: int) -> dict[str, Any]:
    """Time every parser and CLI command on one Dockerfile."""
    rows: list[dict[str, Any]] = []
    sequences: dict[str, list[str]] = {}
    for label, function in in_process_parsers(path):
        durations, keywords = time_calls(function, reps)
        sequences[label] = keywords
        rows.append(
            {
                "kind": "in-process",
                "label": label,
                "instructions": len(keywords),
                "median_ms": statistics.median(durations) * 1e3,
                "min_ms": min(durations) * 1e3,
                "first_ms": durations[0] * 1e3,
            }
        )
    reference = sequences["dockerfile (Go parser)"]
    for row in rows:
        row["differs_at"] = first_difference(sequences[row["label"]], reference)
    for label, argv in cli_commands(path):
        durations, max_rss = time_process(argv, path.parent, reps)
        rows.append(
            {
                "kind": "process",
                "label": label,
                "median_ms": statistics.median(durations) * 1e3,
                "min_ms": min(durations) * 1e3,
                "first_ms": durations[0] * 1e3,
                "max_rss_mib": max_rss / 1024,
            }
        )
    text = path.read_text()
    return {"file": str(path), "lines": text.count("\n"), "rows": rows}


def print_markdown(results: list[dict[str, Any]], reps: int) -> None:
    """Print one table for all files."""
    print(
        f"| file | lines | what | instructions | median ms (n={reps}) | min ms "
        "| first ms | max RSS MiB |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for result in results:
        name = os.path.relpath(result["file"], HERE)
        for row in result["rows"]:
            count = row.get("instructions", "")
            if row.get("differs_at") is not None:
                count = f"{count} (differs from Go at #{row['differs_at']})"
            rss = f"{row['max_rss_mib']:.0f}" if "max_rss_mib" in row else ""
            cells = [
                name,
                str(result["lines"]),
                row["label"],
                str(count),
                f"{row['median_ms']:.2f}",
                f"{row['min_ms']:.2f}",
                f"{row['first_ms']:.2f}",
                rss,
            ]
            print("| " + " | ".join(cells) + " |")


def main() -> None:
    """Parse the arguments, time everything and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to FILE")
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    args = parser.parse_args()
    versions = {
        name: version(name) for name in ("minikit", "dockerfile", "dockerfile-parse")
    }
    versions["python"] = sys.version.split()[0]
    print("; ".join(f"{name} {value}" for name, value in versions.items()))
    results = [measure_file(path.resolve(), args.reps) for path in args.files]
    print_markdown(results, args.reps)
    if args.json:
        payload = {"reps": args.reps, "versions": versions, "files": results}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()
