"""Build checks through ``minikit build``: rules with their lines, ``--check``, ``# check=``.

``--check`` runs the checks over every stage and builds nothing; like buildx
it exits with status 1 when it finds anything. During a normal build the
same warnings are printed and the build goes on, unless ``error=true``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

_WARNING = re.compile(r"^WARNING: (\w+): (.*) \(Dockerfile line (\d+)\)$", re.MULTILINE)

CHECKED = """\
ARG VERSION=1
FROM busybox:1.36 as Build
ARG API_TOKEN
ENV DB_PASSWORD=x
RUN echo one \\

  two
ENV GREETING=$UNDEFINED_NAME
CMD echo a
CMD ["echo", "b"]
FROM busybox:1.36 AS build
FROM ${VERSON:-busybox:1.36}
RUN echo never-run > /never
"""

EXPECTED = [
    ("StageNameCasing", 2, "Stage name 'Build' should be lowercase"),
    ("FromAsCasing", 2, "'as' and 'FROM' keywords' casing do not match"),
    (
        "SecretsUsedInArgOrEnv",
        3,
        'Do not use ARG or ENV instructions for sensitive data (ARG "API_TOKEN")',
    ),
    (
        "SecretsUsedInArgOrEnv",
        4,
        'Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
    ),
    ("NoEmptyContinuation", 7, "Empty continuation line"),
    ("UndefinedVar", 8, "Usage of undefined variable '$UNDEFINED_NAME'"),
    (
        "JSONArgsRecommended",
        9,
        (
            "JSON arguments recommended for CMD to prevent unintended behavior "
            "related to OS signals"
        ),
    ),
    (
        "MultipleInstructionsDisallowed",
        9,
        (
            "Multiple CMD instructions should not be used in the same stage because "
            "only the last one will be used"
        ),
    ),
    ("DuplicateStageName", 11, 'Duplicate stage name "build", stage names should be unique'),
    (
        "UndefinedArgInFrom",
        12,
        "FROM argument 'VERSON' is not declared (did you mean VERSION?)",
    ),
]  # fmt: skip


def _context(tmp_path: Path, dockerfile: str, name: str = "ctx") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    return folder


def _warnings(stderr: str) -> list[tuple[str, int, str]]:
    return [(rule, int(line), text) for rule, text, line in _WARNING.findall(stderr)]


def _build(run_minikit, folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = ["build", "--progress=plain", *flags, str(folder)]
    return run_minikit(command, cwd=folder, check=False)


@pytest.fixture(scope="module")
def checked(run_minikit, base_image, tmp_path_factory):
    folder = _context(tmp_path_factory.mktemp("checks"), CHECKED)
    return _build(run_minikit, folder, "--check")


@pytest.mark.parametrize(("rule", "line", "message"), EXPECTED)
def test_check_reports_rule(checked, rule, line, message):
    assert (rule, line, message) in _warnings(checked.stderr)


def test_check_reports_nothing_else(checked):
    assert sorted(_warnings(checked.stderr)) == sorted(EXPECTED)


def test_check_exit_status(checked):
    assert checked.returncode == 1


def test_check_summary(checked):
    assert (
        f"Check complete, {len(EXPECTED)} warnings have been found!" in checked.stderr
    )


def test_check_builds_nothing(checked):
    assert "RUN echo" not in checked.stderr
    assert "exporting" not in checked.stderr


def test_check_clean_dockerfile(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, 'FROM busybox:1.36\nCMD ["true"]\n')
    result = _build(run_minikit, folder, "--check")
    assert result.returncode == 0
    assert "Check complete, no warnings found." in result.stderr


def test_check_skip_rules(run_minikit, base_image, tmp_path):
    folder = _context(
        tmp_path,
        "# check=skip=JSONArgsRecommended,StageNameCasing\n"
        "FROM busybox:1.36 AS Build\nCMD echo hi\nENV PASSWORD=x\n",
    )
    result = _build(run_minikit, folder, "--check")
    rules = {rule for rule, _line, _text in _warnings(result.stderr)}
    assert rules == {"SecretsUsedInArgOrEnv"}


def test_check_skip_all(run_minikit, base_image, tmp_path):
    folder = _context(
        tmp_path, "# check=skip=all\nFROM busybox:1.36 as b\nCMD echo hi\n"
    )
    result = _build(run_minikit, folder, "--check")
    assert _warnings(result.stderr) == []
    assert result.returncode == 0


def test_check_error_true_fails_build(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "# check=error=true\nFROM busybox:1.36\nCMD echo hi\n")
    result = _build(run_minikit, folder, "-o", f"type=local,dest={tmp_path / 'out'}")
    assert result.returncode != 0
    assert "lint violation found for rules: JSONArgsRecommended" in result.stderr
    assert not (tmp_path / "out").exists()


def test_check_build_arg_overrides_directive(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "# check=error=true\nFROM busybox:1.36\nCMD echo hi\n")
    result = _build(
        run_minikit,
        folder,
        "--build-arg",
        "BUILDKIT_DOCKERFILE_CHECK=skip=JSONArgsRecommended",
        "-o",
        f"type=local,dest={tmp_path / 'out'}",
    )
    assert result.returncode == 0
    assert _warnings(result.stderr) == []


def test_build_shows_warnings(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "FROM busybox:1.36 as b\nRUN true\n")
    result = _build(run_minikit, folder, "-o", f"type=local,dest={tmp_path / 'out'}")
    assert result.returncode == 0
    assert ("FromAsCasing", 1, "'as' and 'FROM' keywords' casing do not match") in (
        _warnings(result.stderr)
    )


def test_build_unused_build_arg(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "FROM busybox:1.36\nARG USED\nRUN true\n")
    result = _build(
        run_minikit,
        folder,
        "--build-arg",
        "USED=1",
        "--build-arg",
        "EXTRA=2",
        "--check",
    )
    assert "One or more build-args [EXTRA] were not consumed" in result.stderr
    assert "[USED]" not in result.stderr


def test_check_shows_warnings_before_error(run_minikit, base_image, tmp_path):
    folder = _context(tmp_path, "FROM busybox:1.36 as b\nFROM $NO_IMAGE\n")
    result = _build(run_minikit, folder, "--check")
    assert result.returncode != 0
    assert "FromAsCasing" in result.stderr
    assert "base name ($NO_IMAGE) should not be blank" in result.stderr


@pytest.mark.parametrize(
    ("syntax", "warned"),
    [
        ("docker/dockerfile:1", False),
        ("docker/dockerfile:1.7-labs", False),
        ("docker.io/docker/dockerfile:1@sha256:" + "a" * 64, False),
        ("example.com/other/frontend:2", True),
    ],
)
def test_syntax_directive(run_minikit, base_image, tmp_path, syntax, warned):
    folder = _context(tmp_path, f"# syntax={syntax}\nFROM busybox:1.36\nRUN true\n")
    result = _build(run_minikit, folder, "-o", f"type=local,dest={tmp_path / 'out'}")
    assert result.returncode == 0
    count = result.stderr.count(f"# syntax={syntax}")
    assert count == (1 if warned else 0)
