#!/usr/bin/env python3
"""Run a command and report its wall time and peak memory.

  measure.py [--root PID]... [--interval S] [--json FILE] -- CMD ARGS...

Every --interval seconds (default 0.05) it samples the memory of two process trees:
  (a) "cmd": the command and all its descendants;
  (b) "daemon": each --root PID and all its descendants, such as dockerd and
      containerd, where BuildKit does the work. The figure is the peak minus the
      value sampled just before the command started.
Each is summed two ways. RSS counts a shared page once in every process that maps
it, so a forked Python helper counts its parent's pages again. PSS, from
/proc/PID/smaps_rollup, splits each shared page among the processes that map it.
Reading another user's smaps_rollup needs root. A peak that lasts less than one
interval can be missed. Prints one JSON line to stderr, or writes it to --json FILE.
The command's stdout and stderr pass through unchanged; the exit status is the
command's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20


def processes() -> dict[int, tuple[int, int]]:
    """Return pid -> (parent pid, RSS in bytes) for every visible process."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may contain spaces, so the fields are counted from the
        # state after it. The parent pid is the 2nd of them, and RSS in pages the 22nd.
        fields = stat[stat.rfind(b")") + 2 :].split()
        found[int(name)] = (int(fields[1]), int(fields[21]) * PAGE)
    return found


def tree(table: dict[int, tuple[int, int]], roots: Iterable[int]) -> set[int]:
    """Return the pids of ``roots`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _rss) in table.items():
        children.setdefault(parent, []).append(pid)
    members: set[int] = set()
    stack = [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid not in members:
            members.add(pid)
            stack.extend(children.get(pid, ()))
    return members


def pss(pids: Iterable[int]) -> int:
    """Return the summed PSS in bytes of ``pids``; processes that exited count 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def sample(roots: list[int]) -> tuple[int, int]:
    """Return (RSS, PSS) in bytes of the trees under ``roots``."""
    table = processes()
    members = tree(table, roots)
    return sum(table[pid][1] for pid in members), pss(members)


def parse_args(argv: list[str]) -> tuple[list[int], float, str | None, list[str]]:
    """Return the daemon roots, the interval, the JSON path and the command."""
    roots, interval, json_path = [], 0.05, None
    index = 0
    while index < len(argv) and argv[index] != "--":
        option = argv[index]
        if option not in ("--root", "--interval", "--json") or index + 1 >= len(argv):
            sys.exit(f"measure.py: invalid option {option}\n{__doc__}")
        value = argv[index + 1]
        if option == "--root":
            roots.append(int(value))
        elif option == "--interval":
            interval = float(value)
        else:
            json_path = value
        index += 2
    command = argv[index + 1 :]
    if not command:
        sys.exit(__doc__)
    return roots, interval, json_path, command


def main(argv: list[str]) -> int:
    """Run the command, sample until it exits, and write the figures."""
    roots, interval, json_path, command = parse_args(argv)
    base_rss, base_pss = sample(roots) if roots else (0, 0)
    peak = {"cmd_rss": 0, "cmd_pss": 0, "daemon_rss": base_rss, "daemon_pss": base_pss}
    done = threading.Event()
    start = time.monotonic()
    process = subprocess.Popen(command)

    def sampler() -> None:
        while not done.is_set():
            rss, pss_bytes = sample([process.pid])
            peak["cmd_rss"] = max(peak["cmd_rss"], rss)
            peak["cmd_pss"] = max(peak["cmd_pss"], pss_bytes)
            if roots:
                rss, pss_bytes = sample(roots)
                peak["daemon_rss"] = max(peak["daemon_rss"], rss)
                peak["daemon_pss"] = max(peak["daemon_pss"], pss_bytes)
            done.wait(interval)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    status = process.wait()
    wall = time.monotonic() - start
    done.set()
    thread.join()

    def delta(key: str, base: int) -> float | None:
        return round((peak[key] - base) / MIB, 1) if roots else None

    result = {
        "wall_s": round(wall, 3),
        "rc": status,
        "peak_cmd_mib": round(peak["cmd_rss"] / MIB, 1),
        "peak_daemon_delta_mib": delta("daemon_rss", base_rss),
        "daemon_base_mib": round(base_rss / MIB, 1) if roots else None,
        "peak_cmd_pss_mib": round(peak["cmd_pss"] / MIB, 1),
        "peak_daemon_pss_delta_mib": delta("daemon_pss", base_pss),
    }
    line = json.dumps(result)
    if json_path:
        with open(json_path, "w") as handle:
            handle.write(line + "\n")
    else:
        print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
