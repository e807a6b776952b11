"""Build checks: each rule, the check directive and the converter's report()."""

from __future__ import annotations

import pytest

from minikit.errors import DockerfileParseError
from minikit.frontend.instructions import parse_instructions
from minikit.frontend.linter import Linter, LintWarning
from minikit.frontend.parser import parse


def lint(text: str, override: str | None = None) -> list[LintWarning]:
    result = parse(text)
    stages, meta = parse_instructions(result)
    check = result.directives.get("check", ("", 0))[0]
    linter = Linter(check, result.filename, override)
    linter.check_parsed(result, stages, meta)
    return linter.warnings


def found(text: str, rule: str) -> list[tuple[int, str]]:
    return [(w.line, w.message) for w in lint(text) if w.rule == rule]


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        (
            "SecretsUsedInArgOrEnv",
            "ARG API_KEY\nFROM x\nENV DB_PASSWORD=x PUBLIC_KEY=y KEYBOARD=z\n",
            [
                (
                    1,
                    'Do not use ARG or ENV instructions for sensitive data (ARG "API_KEY")',
                ),
                (
                    3,
                    'Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")',
                ),
            ],
        ),
        (
            "NoEmptyContinuation",
            "FROM x\nRUN a \\\n\n  b\n",
            [(4, "Empty continuation line")],
        ),
        (
            "StageNameCasing",
            "FROM x AS Build\n",
            [(1, "Stage name 'Build' should be lowercase")],
        ),
        (
            "FromAsCasing",
            "FROM x as b\n",
            [(1, "'as' and 'FROM' keywords' casing do not match")],
        ),
        (
            "JSONArgsRecommended",
            'FROM x\nCMD run\nENTRYPOINT ["a"]\n',
            [
                (
                    2,
                    "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
                )
            ],
        ),
        (
            "DuplicateStageName",
            "FROM x AS a\nFROM y AS A\n",
            [(2, 'Duplicate stage name "a", stage names should be unique')],
        ),
        (
            "MultipleInstructionsDisallowed",
            'FROM x\nCMD ["a"]\nCMD ["b"]\nFROM y\nCMD ["c"]\n',
            [
                (
                    2,
                    "Multiple CMD instructions should not be used in the same stage because only the last one will be used",
                )
            ],
        ),
        (
            "MaintainerDeprecated",
            "FROM x\nMAINTAINER me\n",
            [(2, "Maintainer instruction is deprecated in favor of using label")],
        ),
        (
            "LegacyKeyValueFormat",
            "FROM x\nENV a b\nLABEL c=d\n",
            [
                (
                    2,
                    '"ENV key=value" should be used instead of legacy "ENV key value" format',
                )
            ],
        ),
        (
            "ConsistentInstructionCasing",
            "FROM x\nRUN a\nrun b\n",
            [
                (
                    3,
                    "Command 'run' should match the case of the command majority (uppercase)",
                )
            ],
        ),
        (
            "ReservedStageName",
            "FROM x AS context\n",
            [
                (
                    1,
                    'Stage name should not use the same name as reserved stage "context"',
                )
            ],
        ),
        (
            "WorkdirRelativePath",
            "FROM x\nWORKDIR app\nWORKDIR more\nFROM y\nWORKDIR /abs\nWORKDIR rel\n",
            [
                (
                    2,
                    'Relative workdir "app" can have unexpected results if the base image changes',
                )
            ],
        ),
        (
            "ExposeProtoCasing",
            "FROM x\nEXPOSE 80/TCP 81/udp\n",
            [
                (
                    2,
                    "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
                )
            ],
        ),
        (
            "RedundantTargetPlatform",
            "FROM --platform=$TARGETPLATFORM x\n",
            [
                (
                    1,
                    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
                )
            ],
        ),
    ],
)
def test_rule(rule: str, text: str, expected: list[tuple[int, str]]) -> None:
    assert found(text, rule) == expected


def test_json_args_not_recommended_after_shell() -> None:
    assert (
        found('FROM x\nSHELL ["/bin/bash", "-c"]\nCMD run\n', "JSONArgsRecommended")
        == []
    )


def test_workdir_inherited_from_base_stage() -> None:
    text = "FROM x AS base\nWORKDIR /app\nFROM base\nWORKDIR sub\n"
    assert found(text, "WorkdirRelativePath") == []


def test_warning_url_and_description() -> None:
    warning = lint("FROM x AS Build\n")[0]
    assert (
        warning.url == "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    )
    assert warning.description == "Stage names should be lowercase"


def test_check_skip_rules() -> None:
    text = "# check=skip=StageNameCasing,FromAsCasing\nFROM x as Build\n"
    assert lint(text) == []


def test_check_skip_all() -> None:
    assert lint("# check=skip=all\nFROM x AS Build\nMAINTAINER me\n") == []


def test_build_arg_overrides_directive() -> None:
    text = "# check=skip=all\nFROM x AS Build\n"
    assert [w.rule for w in lint(text, override="skip=FromAsCasing")] == [
        "StageNameCasing"
    ]


def test_error_on_warnings() -> None:
    linter = Linter("error=true", "Dockerfile")
    assert linter.error_on_warnings
    assert linter.violation_error() is None
    linter.report("UndefinedVar", "Usage of undefined variable '$X'", 3)
    error = linter.violation_error()
    assert error is not None
    assert str(error) == "lint violation found for rules: UndefinedVar"


def test_report_honours_skip() -> None:
    linter = Linter("skip=UndefinedVar", "Dockerfile")
    linter.report("UndefinedVar", "Usage of undefined variable '$X'", 3)
    linter.report("UndefinedArgInFrom", "FROM argument 'X' is not declared", 1)
    assert [(w.rule, w.line) for w in linter.warnings] == [("UndefinedArgInFrom", 1)]


def test_experimental_rule_needs_opt_in() -> None:
    quiet = Linter(None, "Dockerfile")
    quiet.report("CopyIgnoredFile", "Attempting to Copy file", 2)
    enabled = Linter("experimental=CopyIgnoredFile", "Dockerfile")
    enabled.report("CopyIgnoredFile", "Attempting to Copy file", 2)
    assert (len(quiet.warnings), len(enabled.warnings)) == (0, 1)


@pytest.mark.parametrize("text", ["skip", "bogus=1", "error=maybe"])
def test_invalid_check_directive(text: str) -> None:
    with pytest.raises(DockerfileParseError):
        Linter(text, "Dockerfile")
