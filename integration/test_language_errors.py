"""Dockerfile errors through ``minikit build``: location, snippet, marker and hint.

Every parse or conversion error names the file, the 1-based line and column,
shows the offending line marked with ``>>>`` and a caret under the word at
fault, and ends with a hint. No Lark error and no traceback reaches the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

_ERROR_LINE = re.compile(
    r"^ERROR: (?P<file>[^:\n]+):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$",
    re.MULTILINE,
)


@dataclass
class Report:
    """The parts of one error report on stderr."""

    stderr: str
    line: int
    column: int
    message: str

    def marked_text(self) -> str:
        """Return the source text from the caret on, read from the snippet."""
        lines = self.stderr.splitlines()
        for index, text in enumerate(lines):
            match = re.match(rf"^ +{self.line} \| >>> (.*)$", text)
            if match and index + 1 < len(lines) and "^" in lines[index + 1]:
                source = match.group(1)
                offset = match.start(1)
                caret = lines[index + 1].index("^") - offset
                width = lines[index + 1].count("^")
                return source[caret : caret + width]
        raise AssertionError(f"no marked line {self.line} in:\n{self.stderr}")


def _report(run_minikit, tmp_path: Path, dockerfile: str, *flags: str) -> Report:
    folder = tmp_path / "ctx"
    folder.mkdir(exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    result = run_minikit(
        ["build", "--progress=plain", *flags, str(folder)], cwd=folder, check=False
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "lark" not in result.stderr.lower()
    match = _ERROR_LINE.search(result.stderr)
    assert match, result.stderr
    assert match.group("file") == "Dockerfile"
    return Report(
        result.stderr,
        int(match.group("line")),
        int(match.group("column")),
        match.group("message"),
    )


def _hint(report: Report) -> str:
    match = re.search(r"^hint: (.+)$", report.stderr, re.MULTILINE)
    assert match, report.stderr
    return match.group(1)


# Each row: Dockerfile, (line, column), the marked word, message part, hint part.
CASES = {
    "unknown-instruction": (
        "FROM busybox:1.36\nRUNN echo hi\n",
        (2, 1), "RUNN", "unknown instruction: RUNN", "did you mean RUN?",
    ),
    "unknown-flag": (
        "FROM busybox:1.36\nRUN --mont=type=cache,target=/c true\n",
        (2, 5), "--mont=type=cache,target=/c", "unknown flag: --mont",
        "did you mean mount?",
    ),
    "mount-key": (
        "FROM busybox:1.36\nRUN --mount=typ=cache,target=/c true\n",
        (2, 13), "typ=cache", "unexpected key 'typ'", "did you mean type?",
    ),
    "mount-type": (
        "FROM busybox:1.36\nRUN --mount=type=tmp,target=/t true\n",
        (2, 13), "type=tmp", 'unsupported mount type "tmp"', "did you mean tmpfs?",
    ),
    "missing-brace": (
        "FROM busybox:1.36\nENV A=1 \\\n    X=${Y:-z\n",
        (3, 7), "${Y:-z", "missing '}'", "${...}",
    ),
    "json-non-string": (
        'FROM busybox:1.36\nCMD ["echo", 1]\n',
        (2, 5), '["echo",', "arrays must be comprised of strings only", "quote",
    ),
    "unterminated-heredoc": (
        "FROM busybox:1.36\nRUN cat <<EOT\n  EOT\n",
        (2, 9), "<<", "unterminated heredoc", "EOT",
    ),
    "copy-from-variable": (
        "FROM busybox:1.36\nARG S=a\nCOPY --from=$S /a /a\n",
        (3, 13), "$S", "variable expansion is not supported for --from",
        "--from=name",
    ),
    "invalid-escape": (
        "# escape=x\nFROM busybox:1.36\n",
        (1, 10), "x", "invalid escape token 'x'", "escape=",
    ),
    "from-arguments": (
        "FROM busybox:1.36 AS\n",
        (1, 1), "FROM", "FROM requires either one or three arguments", "AS <name>",
    ),
    "env-one-word": (
        'FROM busybox:1.36\nENV "ONLY"\n',
        (2, 5), '"ONLY"', "ENV must have two arguments", "NAME=value",
    ),
    "quoted-flag-grammar-path": (
        'FROM busybox:1.36\nRUN --mount="type=tmp,target=/t" true\n',
        (2, 14), "type=tmp", 'unsupported mount type "tmp"',
        "did you mean tmpfs?",
    ),
    "network-mode": (
        "FROM busybox:1.36\nRUN --network=wifi true\n",
        (2, 5), "--network", 'invalid network mode "wifi"', "default, none or host",
    ),
    "blank-base": (
        "ARG IMAGE\nFROM $IMAGE\n",
        (2, 6), "$IMAGE", "base name ($IMAGE) should not be blank", "default",
    ),
    "copy-from-later-stage": (
        "FROM busybox:1.36 AS a\nCOPY --from=b /x /x\nFROM busybox:1.36 AS b\nFROM a\n",
        (2, 6), "--from=b", 'cannot copy from stage "b"', "move the stage",
    ),
    "chmod": (
        "FROM busybox:1.36\nCOPY --chmod=99999 a /a\n",
        (2, 6), "--chmod", "invalid chmod parameter", "octal",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_report(run_minikit, base_image, tmp_path, case):
    dockerfile, (line, column), word, message, hint = CASES[case]
    report = _report(run_minikit, tmp_path, dockerfile)
    assert (report.line, report.column) == (line, column)
    assert message in report.message
    assert report.marked_text() == word
    assert hint in _hint(report)


def test_error_snippet_shows_context(run_minikit, base_image, tmp_path):
    report = _report(
        run_minikit, tmp_path, "FROM busybox:1.36\nENV A=1\nENV B=2\nRUNN x\n"
    )
    assert "Dockerfile:4\n--------------------\n" in report.stderr
    assert "   2 |     ENV A=1" not in report.stderr
    assert " 3 |     ENV B=2" in report.stderr
    assert " 4 | >>> RUNN x" in report.stderr


def test_error_empty_dockerfile(run_minikit, base_image, tmp_path):
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text("# only a comment\n")
    result = run_minikit(["build", str(folder)], cwd=folder, check=False)
    assert result.returncode != 0
    assert "file with no instructions" in result.stderr
    assert "hint:" in result.stderr


def test_error_unknown_target(run_minikit, base_image, tmp_path):
    folder = tmp_path / "ctx"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM busybox:1.36 AS build\n")
    result = run_minikit(
        ["build", "--target", "biuld", str(folder)], cwd=folder, check=False
    )
    assert result.returncode != 0
    assert 'target stage "biuld" could not be found' in result.stderr
    assert "did you mean build?" in result.stderr


def test_error_no_traceback_without_debug(run_minikit, base_image, tmp_path):
    report = _report(run_minikit, tmp_path, "FROM busybox:1.36\nENV X=${\n")
    assert "bad substitution" in report.message or "missing" in report.message
    assert "internal error" not in report.stderr
