#!/usr/bin/env python3
"""Time minikit's secret leak guard search on one folder, in one process.

  $BENCH_MINIKIT/venv/bin/python leakguard-scan.py [--reps N] [--json FILE] FOLDER

Calls minikit.worker.leakguard.find_leaks(FOLDER, [secret]) --reps times with a secret
that is in no file, so every file is read to the end, as the guard does for a layer that
a build made. For b4-bigcopy, FOLDER is the context's data/ folder, which contains the
same files as the layer that `COPY data /data` makes. The first call reads from disk unless
the files are in the page cache; the median is of the cached calls that follow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from minikit.worker.leakguard import find_leaks

SECRET = b"leak-guard-probe-value-0123456789"


def folder_size(folder: Path) -> tuple[int, int]:
    """Return the number of regular files and their total size in bytes."""
    count = size = 0
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            if path.is_file() and not path.is_symlink():
                count += 1
                size += path.stat().st_size
    return count, size


def main() -> None:
    """Time the search and print one line (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to FILE")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()

    durations = []
    for _ in range(args.reps + 1):
        start = time.perf_counter()
        leaks = find_leaks(args.folder, [SECRET])
        durations.append(time.perf_counter() - start)
        if leaks:
            raise SystemExit(f"the probe secret was found in {leaks[:3]}")

    files, size = folder_size(args.folder)
    median = statistics.median(durations[1:])
    result = {
        "folder": str(args.folder),
        "files": files,
        "mib": size / 2**20,
        "first_s": durations[0],
        "median_s": median,
        "reps": args.reps,
        "mib_per_s": size / 2**20 / median,
    }

    print(
        f"leak guard search of {files} files, {result['mib']:.0f} MiB: first "
        f"{durations[0]:.2f} s, median of {args.reps} more {median:.2f} s "
        f"({result['mib_per_s']:.0f} MiB/s)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
