"""Mutated Dockerfiles either parse or fail with a located DockerfileParseError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikit.errors import DockerfileParseError, ShellExpansionError
from minikit.frontend.instructions import parse_instructions
from minikit.frontend.parser import dump, line, parse
from minikit.frontend.shell import Lexer

BUILDKIT = Path(__file__).parent / "data" / "buildkit"

SEEDS = [
    path.read_text(encoding="utf-8") for path in sorted(BUILDKIT.rglob("Dockerfile"))
]
SEEDS += [
    "FROM x\nRUN cat <<EOF\nhi\nEOF\nCOPY <<A <<-B /d\na\nA\n\tb\n\tB\n",
    '# escape=`\nFROM x\nENV a=`"b c` d="e f"\nRUN --m="a b" echo `\n  x\n',
    (
        "FROM x AS b\nARG V=${X:-1}\nONBUILD RUN --mount=type=cache,target=/c echo\n"
        'HEALTHCHECK --interval=1s CMD ["a"]\nCOPY --from=b a /b\nEXPOSE 80/tcp\n'
    ),
    "FROM x\nLABEL a=\"é\" b='\\u3000'\nRUN --é=à x\nUSER ${U:?unset}\n",
]
PIECES = [
    '"', "'", "\\", "`", "<<", "<<-", "${", "}", "$", "\n", "#", " ", "\t", "--", "=",
    "[", "]", ",", "EOF", "\\\n", "\r", "\xa0", "é", "\u3000", "RUN ", "ENV ",
    "COPY ", "ONBUILD ", "HEALTHCHECK ", "FROM ", "ARG ", "-", ":", "?",
]  # fmt: skip

mutation = st.tuples(
    st.sampled_from(["insert", "delete", "duplicate-char", "duplicate-line"]),
    st.floats(min_value=0, max_value=1),
    st.sampled_from(PIECES),
    st.integers(min_value=1, max_value=4),
)


def mutate(text: str, mutations: list[tuple[str, float, str, int]]) -> str:
    for operation, where, piece, size in mutations:
        pos = int(where * len(text))
        if operation == "insert":
            text = text[:pos] + piece + text[pos:]
        elif operation == "delete":
            text = text[:pos] + text[pos + size :]
        elif operation == "duplicate-char":
            text = text[:pos] + text[pos : pos + size] * 2 + text[pos + size :]
        else:
            lines = text.split("\n")
            index = min(int(where * len(lines)), len(lines) - 1)
            lines.insert(index, lines[index])
            text = "\n".join(lines)
    return text


def check_outcome(text: str) -> None:
    lexer = Lexer()
    try:
        result = parse(text.encode("utf-8"))
        stages, _ = parse_instructions(result)
        for stage in stages:
            for command in stage.commands:
                command.expand(
                    lambda word: lexer.process_word(word, {}),
                    lambda word: lexer.process_words(word, {}),
                )
    except (DockerfileParseError, ShellExpansionError) as exc:
        assert exc.location is not None, str(exc)
        assert exc.location.line >= 1


@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(SEEDS), st.lists(mutation, min_size=1, max_size=6))
def test_mutations_fail_cleanly(
    seed: str, mutations: list[tuple[str, float, str, int]]
) -> None:
    check_outcome(mutate(seed, mutations))


def outcome(text: str) -> object:
    try:
        result = parse(text.encode("utf-8"))
    except DockerfileParseError as exc:
        return ("error", str(exc), exc.location.line if exc.location else None)
    heredocs = [
        [(doc.name, doc.content, doc.expand, doc.chomp) for doc in ins.heredocs]
        for ins in result.instructions
    ]
    return dump(result), heredocs, [ins.json for ins in result.instructions]


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(SEEDS), st.lists(mutation, min_size=1, max_size=6))
def test_fast_path_equals_grammar(
    seed: str, mutations: list[tuple[str, float, str, int]]
) -> None:
    text = mutate(seed, mutations)
    saved = line.use_fast_path
    try:
        line.use_fast_path = True
        fast = outcome(text)
        line.use_fast_path = False
        slow = outcome(text)
    finally:
        line.use_fast_path = saved
    assert fast == slow
