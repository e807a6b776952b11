#!/usr/bin/env python3
"""Write the results page of one benchmark run as Markdown on stdout.

  report.py --run-dir /tmp/bench-results/RUN_ID > RESULTS.md

Reads RUN_DIR/results.tsv (rows from lib.sh), RUN_DIR/env.txt (key=value lines from
run.sh), RUN_DIR/parse.json (from parse-peers.py) and the case READMEs. Only the latest
batch of rows per (case, tool) counts: the rows from its last `cold` rep 1 on, as in
summarize.py. A median uses the builds that exited 0 and passed the case's check.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOOL_ORDER = [
    "buildkit",
    "buildah",
    "buildah-j4",
    "buildah-rootless",
    "minikit",
    "minikit-j1",
    "minikit-j4",
    "minikit-secret",
    "minikit-rootless",
]
SUMMARY_TOOLS = (
    "buildkit",
    "buildah",
    "minikit",
    "buildah-rootless",
    "minikit-rootless",
)
FAILED = ("VERIFY-FAIL", "BUILD-FAIL")
FIGURE = re.compile(r"FAIL|[-+]?[0-9][0-9.,/ ]*")


@dataclass
class Cell:
    """The builds of one case, tool and phase."""

    walls: list[float] = field(default_factory=list)
    total: int = 0
    peak_cmd_mib: float | None = None
    peak_daemon_mib: float | None = None
    peak_cmd_pss_mib: float | None = None
    peak_daemon_pss_mib: float | None = None
    verdicts: list[str] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        """Median wall time in seconds of the passing builds, or None if none passed."""
        return statistics.median(self.walls) if self.walls else None


Results = dict[tuple[str, str, str], Cell]


def read_results(path: Path) -> Results:
    """Group the latest batch of rows per (case, tool) into cells."""
    batches: dict[tuple[str, str], list[dict[str, str]]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            key = (row["case"], row["tool"])
            if row["phase"] == "cold" and row["rep"] == "1":
                batches[key] = []
            batches.setdefault(key, []).append(row)
    results: Results = {}
    for (case, tool), rows in batches.items():
        for row in rows:
            add_row(results.setdefault((case, tool, row["phase"]), Cell()), row)
    return results


def add_row(cell: Cell, row: dict[str, str]) -> None:
    """Add one build to ``cell``."""
    cell.total += 1
    if row["verdict"] not in cell.verdicts:
        cell.verdicts.append(row["verdict"])
    if row["rc"] != "0" or row["verdict"].startswith(FAILED):
        return
    cell.walls.append(float(row["wall_s"]))
    cell.peak_cmd_mib = max_of(cell.peak_cmd_mib, number(row["peak_cmd_mib"]))
    cell.peak_daemon_mib = max_of(
        cell.peak_daemon_mib, number(row["peak_daemon_delta_mib"])
    )
    # Rows written before measure.py sampled PSS have no such columns.
    cell.peak_cmd_pss_mib = max_of(
        cell.peak_cmd_pss_mib, number(row.get("peak_cmd_pss_mib") or "")
    )
    cell.peak_daemon_pss_mib = max_of(
        cell.peak_daemon_pss_mib, number(row.get("peak_daemon_pss_delta_mib") or "")
    )


def number(text: str) -> float | None:
    """Parse a figure from results.tsv, where a missing one is empty or None."""
    return None if text in ("", "None") else float(text)


def max_of(left: float | None, right: float | None) -> float | None:
    """Return the larger of two optional figures."""
    values = [value for value in (left, right) if value is not None]
    return max(values) if values else None


def read_env(path: Path) -> dict[str, str]:
    """Read run.sh's key=value lines; a later line wins."""
    env: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    return env


def seconds(value: float | None) -> str:
    """Format a duration in seconds, or FAIL when no build passed."""
    return "FAIL" if value is None else f"{value:.2f}"


def milliseconds(value: float | None) -> str:
    """Format a duration given in seconds as milliseconds."""
    return "-" if value is None else f"{value * 1e3:.0f}"


def ratio(numerator: float | None, denominator: float | None) -> str:
    """Format numerator / denominator, or - when either is missing."""
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def mib(value: float | None) -> str:
    """Format a memory figure in MiB."""
    return "-" if value is None else f"{value:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """Render a Markdown table; columns of figures are right-aligned."""
    align = []
    for index in range(len(header)):
        column = [row[index] for row in rows if row[index] not in ("", "-")]
        figures = column and all(FIGURE.fullmatch(cell) for cell in column)
        align.append("---:" if figures else "---")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += [
        "| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows
    ]
    return "\n".join(lines)


class Page:
    """The results page, built section by section."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.results = read_results(run_dir / "results.tsv")
        self.env = read_env(run_dir / "env.txt")
        parse_path = run_dir / "parse.json"
        self.parse: dict[str, Any] = (
            json.loads(parse_path.read_text()) if parse_path.exists() else {}
        )
        self.cases = sorted({case for case, _tool, _phase in self.results})

    def median(self, case: str, tool: str, phase: str) -> float | None:
        """Return the median wall time of a cell, or None if it is missing or failed."""
        cell = self.results.get((case, tool, phase))
        return cell.median if cell else None

    def show(self, case: str, tool: str, phase: str) -> str:
        """Format a cell's median: - when it did not run, FAIL when no build passed."""
        cell = self.results.get((case, tool, phase))
        if cell is None:
            return "-"
        return seconds(cell.median)

    def tools(self, case: str) -> list[str]:
        """Return the tools that ran ``case``, in the page's order."""
        present = {tool for c, tool, _phase in self.results if c == case}
        known = [tool for tool in TOOL_ORDER if tool in present]
        return known + sorted(present - set(known))

    def phases(self, case: str) -> list[str]:
        """Return the phases of ``case``: cold, warm, then any extra phase."""
        present = {phase for c, _tool, phase in self.results if c == case}
        return [p for p in ("cold", "warm") if p in present] + sorted(
            present - {"cold", "warm"}
        )

    def render(self) -> str:
        """Return the whole page."""
        sections = [
            self.header(),
            self.summary(),
            self.memory_summary(),
            self.requested_figures(),
            self.case_tables(),
            COMMANDS,
            METHOD,
        ]
        return "\n\n".join(section for section in sections if section) + "\n"

    def header(self) -> str:
        """Return the title, the machine and the tool versions."""
        env = self.env
        keys = [
            ("date", "date (UTC)"),
            ("duration_s", "run time, s"),
            ("kernel", "kernel"),
            ("os", "OS"),
            ("cpu", "CPU"),
            ("memory", "memory"),
            ("load_at_start", "load average at start"),
            ("load_at_end", "load average at end"),
            ("minikit", "minikit"),
            ("python", "Python (minikit's venv)"),
            ("docker", "Docker (BuildKit)"),
            ("buildkit_error", "BuildKit not run"),
            ("containerd", "containerd"),
            ("runc", "runc"),
            ("buildah", "buildah"),
            ("registry", "docker-registry"),
            ("packages", "Debian packages"),
            ("rootless_error", "rootless not run"),
        ]
        rows = [[label, env[key]] for key, label in keys if env.get(key)]
        versions = self.parse.get("versions", {})
        if versions:
            rows.append(
                [
                    "PyPI parsers",
                    (
                        f"dockerfile {versions.get('dockerfile')}, "
                        f"dockerfile-parse {versions.get('dockerfile-parse')}"
                    ),
                ]
            )
        return "\n\n".join([TITLE, table(["", "value"], rows)])

    def summary(self) -> str:
        """Return the ratio table: minikit against the peers, per case and phase."""
        header = [
            "case",
            "phase",
            "BuildKit s",
            "buildah s",
            "minikit s",
            "minikit / BuildKit",
            "minikit / buildah",
            "buildah rootless s",
            "minikit rootless s",
            "rootless minikit / BuildKit",
            "rootless minikit / rootless buildah",
        ]
        rows = []
        for case in self.cases:
            for phase in self.phases(case):
                shown = {tool: self.show(case, tool, phase) for tool in SUMMARY_TOOLS}
                median = {
                    tool: self.median(case, tool, phase) for tool in SUMMARY_TOOLS
                }
                rows.append(
                    [
                        case,
                        phase,
                        shown["buildkit"],
                        shown["buildah"],
                        shown["minikit"],
                        ratio(median["minikit"], median["buildkit"]),
                        ratio(median["minikit"], median["buildah"]),
                        shown["buildah-rootless"],
                        shown["minikit-rootless"],
                        ratio(median["minikit-rootless"], median["buildkit"]),
                        ratio(median["minikit-rootless"], median["buildah-rootless"]),
                    ]
                )
        return "\n\n".join(
            [
                "## Summary: median wall time and ratios",
                (
                    "A ratio below 1 means minikit was faster. Every build writes its image as a "
                    "tar, and RUN steps have no network. FAIL means no build of that cell passed "
                    "(see the case tables)."
                ),
                table(header, rows),
            ]
        )

    def memory_summary(self) -> str:
        """Return peak memory per case for the cold phase, as PSS and as RSS."""
        tools = ("buildah", "buildah-rootless", "minikit", "minikit-rootless")
        header = [
            "case",
            "BuildKit CLI",
            "BuildKit daemons' growth",
            "BuildKit sum",
            *tools,
        ]
        tables = []
        for kind in ("pss", "rss"):
            rows = []
            for case in self.cases:
                kit = self.memory(case, "buildkit", kind)
                total = None if kit[0] is None else kit[0] + (kit[1] or 0.0)
                rows.append(
                    [
                        case,
                        mib(kit[0]),
                        mib(kit[1]),
                        mib(total),
                        *(mib(self.memory(case, tool, kind)[0]) for tool in tools),
                    ]
                )
            tables.append(table(header, rows))
        return "\n\n".join(
            [
                "## Peak memory (cold builds), MiB",
                (
                    "The maximum over the cold builds of the memory of the command's "
                    "process tree. For BuildKit the work happens in dockerd and "
                    "containerd, so their growth during the build is a separate column. "
                    "PSS splits each shared page among the processes that map it; this "
                    "is the fair figure for minikit, whose helper processes are forks "
                    "of the Python build process."
                ),
                "PSS:",
                tables[0],
                (
                    "RSS, which counts a shared page once per process, so forks of one "
                    "Python process count its memory several times:"
                ),
                tables[1],
            ]
        )

    def memory(self, case: str, tool: str, kind: str) -> tuple[float | None, ...]:
        """Return (command peak, daemons' growth) of a cold cell as PSS or RSS."""
        cell = self.results.get((case, tool, "cold"))
        if cell is None:
            return (None, None)
        if kind == "pss":
            return (cell.peak_cmd_pss_mib, cell.peak_daemon_pss_mib)
        return (cell.peak_cmd_mib, cell.peak_daemon_mib)

    def requested_figures(self) -> str:
        """Return the requested figures, one subsection each."""
        parts = [
            "## Figures asked for",
            self.parse_figures(),
            self.warm_steps(),
            self.cold_steps(),
            self.parallel_stages(),
            self.big_copy(),
            self.verdicts(),
        ]
        return "\n\n".join(part for part in parts if part)

    def parse_figures(self) -> str:
        """Return parse, convert and CLI times, and b1-parse minus b0-trivial."""
        lines = ["### 1. b1-parse: parsing and converting 2,000 instructions"]
        if self.parse:
            lines.append(
                f"In one process, median of {self.parse['reps']} calls (the first "
                "call included). `minikit parse + convert` is `definition_of`: parse, "
                "build checks, typing, conversion and marshalling, plus one lookup of "
                "the target's base image config in the loopback registry. The process "
                "rows start a new interpreter each time."
            )
            lines.append(self.parse_table())
        rows = []
        for tool in self.tools("b1-parse"):
            cells = []
            for phase in ("cold", "warm"):
                b1 = self.median("b1-parse", tool, phase)
                b0 = self.median("b0-trivial", tool, phase)
                diff = b1 - b0 if b1 is not None and b0 is not None else None
                cells += [
                    self.show("b0-trivial", tool, phase),
                    self.show("b1-parse", tool, phase),
                    milliseconds(diff),
                ]
            rows.append([tool, *cells])
        lines.append(
            "Whole builds: b1-parse builds a 6-instruction final stage that does not "
            "depend on the 1,994 other instructions, and b0-trivial is that stage "
            "alone, so b1 minus b0 is the cost of reading and planning the rest."
        )
        lines.append(
            table(
                [
                    "tool",
                    "b0 cold s",
                    "b1 cold s",
                    "b1 - b0 cold ms",
                    "b0 warm s",
                    "b1 warm s",
                    "b1 - b0 warm ms",
                ],
                rows,
            )
        )
        return "\n\n".join(lines)

    def parse_table(self) -> str:
        """Return the rows of parse.json as a table."""
        rows = []
        for result in self.parse["files"]:
            name = Path(result["file"]).parent.name
            for row in result["rows"]:
                count = str(row.get("instructions", ""))
                if row.get("differs_at") is not None:
                    count += f" (differs from Go at #{row['differs_at']})"
                rss = row.get("max_rss_mib")
                rows.append(
                    [
                        name,
                        row["label"],
                        count,
                        f"{row['median_ms']:.1f}",
                        f"{row['min_ms']:.1f}",
                        f"{row['first_ms']:.1f}",
                        "" if rss is None else f"{rss:.0f}",
                    ]
                )
        return table(
            [
                "file",
                "what",
                "instructions",
                "median ms",
                "min ms",
                "first ms",
                "max RSS MiB",
            ],
            rows,
        )

    def warm_steps(self) -> str:
        """Return b2-steps warm times against BuildKit's, next to b0-trivial warm."""
        kit = self.median("b2-steps", "buildkit", "warm")
        rows = [
            [
                tool,
                self.show("b2-steps", tool, "warm"),
                ratio(self.median("b2-steps", tool, "warm"), kit),
                self.show("b0-trivial", tool, "warm"),
            ]
            for tool in self.tools("b2-steps")
        ]
        text = [
            "### 2. b2-steps warm: every step cached",
            (
                "The whole command, Python start-up included, against BuildKit's warm "
                "rebuild (a client talking to a running daemon). b0-trivial warm has "
                "no RUN step and is there for comparison. Its COPY needs a checksum of "
                "the context, so the difference between the two is not the cost of "
                "the 30 cache hits alone."
            ),
            table(["tool", "b2 warm s", "/ BuildKit", "b0 warm s"], rows),
        ]
        startup = self.startup_note()
        if startup:
            text.append(startup)
        return "\n\n".join(text)

    def startup_note(self) -> str:
        """Return the interpreter and import start-up times from parse.json."""
        if not self.parse:
            return ""
        rows = {
            row["label"]: row["median_ms"]
            for result in self.parse["files"]
            for row in result["rows"]
            if "b0-trivial" in result["file"]
        }
        if "python3 -c pass" not in rows or "minikit --version" not in rows:
            return ""
        return (
            f"For scale: `python3 -c pass` takes {rows['python3 -c pass']:.0f} ms "
            f"and `minikit --version` {rows['minikit --version']:.0f} ms here "
            "(medians, parse-peers.py)."
        )

    def cold_steps(self) -> str:
        """Return the cold cost per RUN step: (b2 cold - b0 cold) / steps."""
        steps = run_steps(HERE / "cases/b2-steps/Dockerfile")
        per_step = {}
        for tool in self.tools("b2-steps"):
            b2 = self.median("b2-steps", tool, "cold")
            b0 = self.median("b0-trivial", tool, "cold")
            if b2 is not None and b0 is not None:
                per_step[tool] = (b2 - b0) / steps
        kit = per_step.get("buildkit")
        rows = [
            [
                tool,
                self.show("b2-steps", tool, "cold"),
                self.show("b0-trivial", tool, "cold"),
                milliseconds(per_step.get(tool)),
                ratio(per_step.get(tool), kit),
                target_verdict(per_step.get(tool), kit)
                if tool.startswith("minikit")
                else "",
            ]
            for tool in self.tools("b2-steps")
        ]
        return "\n\n".join(
            [
                "### 3. b2-steps cold: cost per RUN step",
                (
                    f"(b2-steps cold - b0-trivial cold) / {steps} RUN steps. Both builds pull "
                    "the same base and export a small image, so the difference is mostly "
                    "the steps. b0 also copies one small file, which b2 does not, so "
                    "the figure is slightly low. The target is at most half of "
                    "BuildKit's cost per step."
                ),
                table(
                    [
                        "tool",
                        "b2 cold s",
                        "b0 cold s",
                        "ms per step",
                        "/ BuildKit",
                        "target (<= 0.5)",
                    ],
                    rows,
                ),
            ]
        )

    def parallel_stages(self) -> str:
        """Return b3-multistage cold times and the speedup over one job."""
        case = "b3-multistage"
        serial = self.median(case, "minikit-j1", "cold")
        kit = self.median(case, "buildkit", "cold")
        rows = [
            [
                tool,
                self.show(case, tool, "cold"),
                ratio(self.median(case, tool, "cold"), kit),
                ratio(serial, self.median(case, tool, "cold"))
                if tool.startswith("minikit")
                else "",
            ]
            for tool in self.tools(case)
        ]
        return "\n\n".join(
            [
                "### 4. b3-multistage cold: four independent stages",
                (
                    "minikit's `--jobs` defaults to the number of CPUs, at least 4 (so 4 here); "
                    "`minikit-j4` passes `--jobs 4` and `minikit-j1` `--jobs 1`. "
                    "buildah runs stages one at a time unless given `--jobs`."
                ),
                table(
                    ["tool", "cold s", "/ BuildKit", "speedup over minikit -j1"], rows
                ),
            ]
        )

    def big_copy(self) -> str:
        """Return b4-bigcopy times and the leak guard's cost."""
        case = "b4-bigcopy"
        kit = self.median(case, "buildkit", "cold")
        rows = [
            [
                tool,
                self.show(case, tool, "cold"),
                self.show(case, tool, "warm"),
                ratio(self.median(case, tool, "cold"), kit),
            ]
            for tool in self.tools(case)
        ]
        lines = [
            "### 5. b4-bigcopy: context transfer, copy and export",
            table(["tool", "cold s", "warm s", "cold / BuildKit"], rows),
        ]
        guard = []
        for phase in ("cold", "warm"):
            plain = self.median(case, "minikit", phase)
            with_secret = self.median(case, "minikit-secret", phase)
            extra = (
                with_secret - plain
                if plain is not None and with_secret is not None
                else None
            )
            guard.append(
                [
                    phase,
                    self.show(case, "minikit", phase),
                    self.show(case, "minikit-secret", phase),
                    "-" if extra is None else f"{extra:+.2f}",
                    ratio(with_secret, plain),
                ]
            )
        lines += [
            (
                "Where the time goes, from the `--progress=plain` logs (medians over the "
                "repetitions). `outside steps` is the wall time minus the listed steps: "
                "start-up, the leak guard and the exit for minikit. BuildKit's steps "
                "overlap (the context streams while the COPY waits for it), so its "
                "value can be negative."
            ),
            self.step_table(case),
            (
                "The secret leak guard searches every layer that the build made for the "
                "bytes of every secret given, so it runs only when a `--secret` is given "
                "and only on layers built in this run. `minikit-secret` passes one secret "
                "that no step reads; both rows start from the same cache state."
            ),
            table(
                ["phase", "no secret s", "with --secret s", "difference s", "ratio"],
                guard,
            ),
            self.scan_note(),
        ]
        return "\n\n".join(lines)

    def step_table(self, case: str) -> str:
        """Return the median time of the main progress steps per tool and phase."""
        rows = []
        for tool in self.tools(case):
            for phase in ("cold", "warm"):
                logs = (self.run_dir / "logs").glob(f"{case}.{tool}.{phase}.*.log")
                timings = [timing for timing in map(step_times, sorted(logs)) if timing]
                if not timings:
                    continue
                medians = [
                    statistics.median(timing.get(step, 0.0) for timing in timings)
                    for step in STEP_NAMES
                ]
                outside = statistics.median(
                    timing["wall"] - sum(timing.get(step, 0.0) for step in STEP_NAMES)
                    for timing in timings
                )
                rows.append(
                    [
                        tool,
                        phase,
                        *(f"{value:.1f}" for value in medians),
                        f"{outside:.1f}",
                    ]
                )
        header = ["tool", "phase", *(f"{step} s" for step in STEP_NAMES)]
        return table(header + ["outside steps s"], rows)

    def scan_note(self) -> str:
        """Return the in-process leak guard timing from leakguard.json, if any."""
        path = self.run_dir / "leakguard.json"
        if not path.exists():
            return ""
        scan = json.loads(path.read_text())
        return (
            f"In one process (`leakguard-scan.py`), the guard's search of the same "
            f"{scan['files']} files ({scan['mib']:.0f} MiB) took {scan['median_s']:.2f} s "
            f"with the files in the page cache ({scan['mib_per_s']:.0f} MiB/s, median "
            f"of {scan['reps']}), and {scan['first_s']:.2f} s on the first call."
        )

    def verdicts(self) -> str:
        """Return the correctness verdicts and times of b5-secret and b6-ssh."""
        rows = []
        for case in ("b5-secret", "b6-ssh"):
            for tool in self.tools(case):
                for phase in self.phases(case):
                    cell = self.results.get((case, tool, phase))
                    if cell:
                        rows.append(
                            [
                                case,
                                tool,
                                phase,
                                seconds(cell.median),
                                f"{len(cell.walls)}/{cell.total}",
                                "; ".join(cell.verdicts),
                            ]
                        )
        return "\n\n".join(
            [
                "### 6. b5-secret and b6-ssh: verdicts",
                (
                    "BuildKit keeps the cache when only a secret's value changes (b5's "
                    "`secret-changed` phase), so `cache NOT invalidated` is its behaviour, "
                    "not a failure. `leak-lines` counts lines of the output tar that contain "
                    "the secret."
                ),
                table(["case", "tool", "phase", "median s", "passed", "verdict"], rows),
            ]
        )

    def case_tables(self) -> str:
        """Return one table per case with every tool and phase."""
        parts = ["## Per case"]
        for case in self.cases:
            readme = HERE / "cases" / case / "README"
            rows = []
            for tool in self.tools(case):
                for phase in self.phases(case):
                    cell = self.results.get((case, tool, phase))
                    if not cell:
                        continue
                    rows.append(
                        [
                            tool,
                            phase,
                            seconds(cell.median),
                            ", ".join(f"{wall:.2f}" for wall in cell.walls) or "-",
                            f"{len(cell.walls)}/{cell.total}",
                            mib(cell.peak_cmd_pss_mib),
                            mib(cell.peak_daemon_pss_mib),
                            mib(cell.peak_cmd_mib),
                            "; ".join(cell.verdicts)[:240],
                        ]
                    )
            parts.append(f"### {case}")
            if readme.exists():
                parts.append(readme.read_text().strip())
            parts.append(
                table(
                    [
                        "tool",
                        "phase",
                        "median s",
                        "runs s",
                        "passed",
                        "peak PSS MiB",
                        "daemons' PSS growth MiB",
                        "peak RSS MiB",
                        "verdict",
                    ],
                    rows,
                )
            )
        return "\n\n".join(parts)


# Progress steps of b4-bigcopy, as (column, text that starts the step's name). BuildKit
# sends the context as its own step, and minikit reads it inside the COPY step.
STEP_PATTERNS = [
    ("context", "[internal] load build context"),
    ("COPY", "[2/"),
    ("exporting layers", "exporting layers"),
    ("export to tar", "exporting to client"),
]
STEP_NAMES = [name for name, _prefix in STEP_PATTERNS]
STEP_LINE = re.compile(r"#(\d+) (.*)")
DONE_LINE = re.compile(r"#(\d+) DONE ([0-9.]+)s")


def step_times(log: Path) -> dict[str, float]:
    """Return the DONE seconds of the STEP_PATTERNS steps in a plain progress log.

    The build's wall time comes from the JSON file that measure.py wrote next to the
    log, under the key ``wall``. A failed build, or a log without those steps (buildah
    prints none), returns an empty dict.
    """
    measured = json.loads(log.with_suffix(".json").read_text())
    if measured["rc"] != 0:
        return {}
    names: dict[str, str] = {}
    times: dict[str, float] = {"wall": measured["wall_s"]}
    for line in log.read_text(errors="replace").splitlines():
        done = DONE_LINE.match(line)
        if done and done.group(1) in names:
            times[names[done.group(1)]] = float(done.group(2))
            continue
        step = STEP_LINE.match(line)
        if step and step.group(1) not in names:
            for column, prefix in STEP_PATTERNS:
                if step.group(2).startswith(prefix):
                    names[step.group(1)] = column
    return times if len(times) > 1 else {}


def run_steps(dockerfile: Path) -> int:
    """Count the RUN instructions of a Dockerfile without continuation lines."""
    return sum(
        1 for line in dockerfile.read_text().splitlines() if line.startswith("RUN ")
    )


def target_verdict(value: float | None, reference: float | None) -> str:
    """Return met or missed for the at-most-half target."""
    if value is None or not reference:
        return "-"
    return "met" if value <= reference / 2 else "missed"


TITLE = """# minikit benchmarks

minikit against Docker's BuildKit and buildah on the cases in `bench/cases/`,
all measured in one run of `bench/run.sh` on the machine below. Every table
on this page comes from that run, and `bench/report.py` wrote the page."""

COMMANDS = """## Commands used

    bash bench/run.sh                       # as root: peers, images, every case, this page

Per build (see `run-buildkit.sh`, `run-buildah.sh`, `run-minikit.sh`), where TAR is
/tmp/bench-out/CASE.TOOL.PHASE.tar and the case adds its `--secret`/`--ssh` flags:

    DOCKER_BUILDKIT=1 docker build --progress=plain --network=none -f DF -o type=tar,dest=TAR CTX
    buildah [--root R --runroot RR] bud --layers --network none --tls-verify=false \\
        --isolation oci --jobs 1 -f DF -t localhost/bench-CASE:latest -o type=tar,dest=TAR CTX
    minikit build --root R --progress=plain -f DF -o type=tar,dest=TAR --network=none CTX

Rootless runs go through `runuser -u bench`. Cold resets: `docker builder prune -af` plus
`docker rmi` of the base images; `buildah rm --all` and `buildah rmi --all --force`;
`minikit prune --root R --all`. Warm is the same build right after the cold one."""

METHOD = """## Method and limits

- `measure.py` samples the process trees every 50 ms, so a peak that lasts less than
  that can be missed. RSS counts a shared page once per process, and PSS does not.
- Each cell is the median of its passing builds (5 repetitions for b0 and b1, 3 for the
  rest, 1 when the first cold build took more than 30 s). The tools take turns, one
  repetition each, and `sync` runs before every build.
- The base images come from a registry on 127.0.0.1 (`make-base-images.sh`), so a cold
  build's pull is a loopback transfer, not a download.
- minikit runs from a snapshot (`setup-minikit.sh`: the committed tree unless the
  first table says `source=worktree`) in a venv on Debian's Python, the same install
  for the root and the rootless runs.
- Other work on the machine during the run adds noise; the load averages in the first
  table show how busy it was. Sub-second figures are the most affected.
- Cold b4-bigcopy builds reuse a storage folder from which the reset has just deleted
  some 20,000 files. On this machine (ext4, kernel 6.18), minikit's cold COPY step as
  root took between 3 and 17 s from one such build to the next, with the system time
  growing, and `perf record` put about 40% of a slow build's CPU time in ext4's inode
  allocator (`find_get_block_common`, `recently_deleted`, `find_inode_bit`). Waiting
  31 s after the reset did not help. In new, empty `--root` folders the step took 3 s
  twice out of three. So the cold b4 figures depend on the file system's state as well
  as on the builder. These checks ran outside run.sh."""


def main() -> None:
    """Parse the arguments and print the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args()
    print(Page(args.run_dir).render(), end="")


if __name__ == "__main__":
    main()
