"""minikit's parser against BuildKit's Go parser, where PyPI's ``dockerfile`` is installed.

The ``dockerfile`` package wraps the parser of BuildKit 0.12, which differs
from the BuildKit that minikit follows in two known ways: it accepts text
after a JSON array, and it does not open a heredoc for ``<< EOF`` with a
space. The inputs here avoid both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.frontend.parser import Instruction, parse

dockerfile = pytest.importorskip("dockerfile")

BUILDKIT = Path(__file__).parent / "data" / "buildkit"
FILES = sorted((BUILDKIT / "parser" / "testfiles").glob("*/Dockerfile"))
EXTRA = [
    "FROM x\nRUN --mount=type=cache,target=/c --network=none make\n",
    "FROM x\nCOPY <<A <<-B /d\na\nA\n\tb\n\tB\nRUN cat <<'EOF' | sh\necho $X\nEOF\n",
    '# escape=`\nFROM x\nENV a=`"b c` d="e f"\nRUN --m="a b" echo `\n  x\n',
    'FROM x\nLABEL a="é"\nRUN --é=à x\nONBUILD RUN echo hi\n',
    'FROM x\nHEALTHCHECK --interval=1s CMD ["a"]\nARG a="1 2" b\n',
]


def _values(instruction: Instruction) -> tuple[str, ...]:
    node = instruction.sub or instruction
    if node.keyword not in ("env", "label"):
        return tuple(node.args)
    # The wrapper drops the delimiter of each ENV/LABEL triple.
    pairs = [node.args[i : i + 2] for i in range(0, len(node.args), 3)]
    return tuple(value for pair in pairs for value in pair)


def _compare(text: str) -> None:
    ours = parse(text.encode("utf-8")).instructions
    theirs = dockerfile.parse_string(text)
    assert len(ours) == len(theirs)
    for mine, go in zip(ours, theirs, strict=True):
        assert mine.raw_keyword == go.cmd
        assert (mine.start_line, mine.end_line) == (go.start_line, go.end_line)
        assert tuple(mine.flags) == go.flags
        assert _values(mine) == go.value
        assert (mine.sub or mine).json == go.json
        heredocs = tuple((doc.name, doc.content) for doc in mine.heredocs)
        assert heredocs == tuple((doc.name, doc.content) for doc in go.heredocs)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.parent.name)
def test_testfile_matches_go(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if "\\u0000" in text:
        pytest.skip("the wrapper cuts strings at NUL")
    _compare(text)


@pytest.mark.parametrize("text", EXTRA)
def test_extra_input_matches_go(text: str) -> None:
    _compare(text)
