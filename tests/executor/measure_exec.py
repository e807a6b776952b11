"""Measure the executor's overhead per RUN: sequential ``/bin/sh -c true`` steps.

Run as root from the repository: ``python3 tests/executor/measure_exec.py``.
It measures as root and, through the ``minikit-exec-test`` user, rootless.
Each measurement enters a build namespace, puts an overlay on a busybox
root filesystem and times ``--runs`` RUNs after one warm-up RUN, which
compiles the seccomp filter. It prints the median, minimum and maximum
wall time per RUN as seen by the caller of ``Executor.run``. Not a test:
the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def measure_inside(
    workdir: str, busybox: str, runs: int, networks: list[str]
) -> dict[str, Any]:
    """Time the RUNs from inside a fresh build namespace (this process forks)."""
    import executor_support

    from minikit.errors import ExecutorError
    from minikit.executor import Executor, RunSpec, enter_build_namespace

    namespace = enter_build_namespace()
    merged = executor_support._prepare_overlay(workdir, busybox)
    results: dict[str, Any] = {"rootless": namespace.rootless}
    with Executor.start(namespace) as executor:
        for network in networks:
            spec = RunSpec(
                rootfs=merged, args=("/bin/sh", "-c", "true"), env=(), network=network
            )
            try:
                results[network] = _time_runs(executor, spec, runs)
            except ExecutorError as error:
                results[network] = {"error": error.message}
    return results


def _time_runs(executor: Any, spec: Any, runs: int) -> dict[str, Any]:
    durations = []
    for index in range(runs + 1):
        started = time.perf_counter()
        result = executor.run(spec, on_output=lambda stream, data: None)
        elapsed = time.perf_counter() - started
        if result.exit_code != 0:
            raise SystemExit(f"RUN {index} exited with {result.exit_code}")
        if index > 0:
            durations.append(elapsed * 1000)
    return {
        "median_ms": statistics.median(durations),
        "min_ms": min(durations),
        "max_ms": max(durations),
        "runs": runs,
    }


def run_measurement(rootless: bool, runs: int, networks: list[str]) -> dict[str, Any]:
    """Run this script with ``--inside`` as root or as the test user; return its report."""
    sys.path.insert(0, str(HERE.parents[1] / "integration"))
    import executor_support

    busybox = executor_support.find_static_busybox()
    if busybox is None:
        raise SystemExit("needs a static busybox (Debian package busybox-static)")
    workdir = tempfile.mkdtemp(prefix="minikit-exec-measure-")
    os.chmod(workdir, 0o755)
    code_dir = ""
    options: dict[str, Any] = {}
    if rootless:
        account = executor_support.ensure_test_user()
        os.chown(workdir, account.pw_uid, account.pw_gid)
        code_dir = executor_support.copy_for_test_user(str(HERE.parents[1]))
        shutil.copy(__file__, os.path.join(code_dir, "measure_exec.py"))
        os.chmod(os.path.join(code_dir, "measure_exec.py"), 0o644)
        python = executor_support.SYSTEM_PYTHON
        script = os.path.join(code_dir, "measure_exec.py")
        paths = [code_dir]
        options = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    else:
        python, script = sys.executable, __file__
        paths = [str(HERE.parents[1]), str(HERE.parents[1] / "integration")]
    command = [
        python,
        script,
        "--inside",
        workdir,
        "--busybox",
        busybox,
        "--runs",
        str(runs),
    ]
    command += ["--paths", json.dumps(paths), "--network", *networks]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=workdir, **options
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if code_dir:
            shutil.rmtree(code_dir, ignore_errors=True)
    if completed.returncode != 0:
        raise SystemExit(f"measurement failed:\n{completed.stderr}")
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def main() -> None:
    """Parse the command line and print one line per mode and network."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=30, help="timed RUNs per network mode"
    )
    parser.add_argument(
        "--network",
        nargs="+",
        default=["none", "host"],
        help="network modes to measure",
    )
    parser.add_argument("--mode", choices=["root", "rootless", "both"], default="both")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    parser.add_argument("--busybox", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.inside:
        sys.path[:0] = json.loads(arguments.paths)
        report = measure_inside(
            arguments.inside, arguments.busybox, arguments.runs, arguments.network
        )
        print(json.dumps(report))
        return

    modes = ["root", "rootless"] if arguments.mode == "both" else [arguments.mode]
    for mode in modes:
        report = run_measurement(mode == "rootless", arguments.runs, arguments.network)
        for network in arguments.network:
            figures = report[network]
            if "error" in figures:
                print(f"{mode:8s} network={network:7s} unavailable: {figures['error']}")
                continue
            print(
                f"{mode:8s} network={network:7s} runs={figures['runs']} "
                f"median={figures['median_ms']:.2f} ms min={figures['min_ms']:.2f} ms "
                f"max={figures['max_ms']:.2f} ms"
            )


if __name__ == "__main__":
    main()
