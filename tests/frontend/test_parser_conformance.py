"""BuildKit's own parser test data: AST dumps, rejected files and line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import DockerfileParseError
from minikit.frontend.parser import dump, parse

BUILDKIT = Path(__file__).parent / "data" / "buildkit"

PARSER = BUILDKIT / "parser"
DUMP_CASES = sorted(path.name for path in (PARSER / "testfiles").iterdir())
NEGATIVE_CASES = sorted(path.name for path in (PARSER / "testfiles-negative").iterdir())


@pytest.mark.parametrize("case", DUMP_CASES)
def test_dump_matches_result(case: str, line_path: str) -> None:
    folder = PARSER / "testfiles" / case
    result = parse((folder / "Dockerfile").read_bytes())
    assert dump(result) == (folder / "result").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", NEGATIVE_CASES)
def test_negative_case_rejected(case: str, line_path: str) -> None:
    data = (PARSER / "testfiles-negative" / case / "Dockerfile").read_bytes()
    with pytest.raises(DockerfileParseError) as caught:
        parse(data)
    assert caught.value.location is not None
    assert caught.value.location.line >= 1


def test_negative_messages() -> None:
    expected = {
        "empty_dockerfile": "file with no instructions",
        "only_comments": "file with no instructions",
        "env_no_value": "ENV must have two arguments",
        "shykes-nested-json": (
            "when using JSON array syntax, arrays must be comprised of strings only"
        ),
    }
    for case, message in expected.items():
        data = (PARSER / "testfiles-negative" / case / "Dockerfile").read_bytes()
        with pytest.raises(DockerfileParseError) as caught:
            parse(data)
        assert str(caught.value) == message, case


def test_line_numbers() -> None:
    result = parse((PARSER / "testfile-line" / "Dockerfile").read_bytes())
    ranges = [(ins.start_line, ins.end_line) for ins in result.instructions]
    assert ranges == [(5, 5), (11, 12), (17, 31)]
