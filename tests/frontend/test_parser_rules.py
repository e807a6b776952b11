"""Parser rules: directives, continuations, comments, heredocs, flags and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import DockerfileParseError
from minikit.frontend.instructions import parse_instructions
from minikit.frontend.parser import debug_parse, dump, grammar, line, parse


def parsed(text: str | bytes):
    return parse(
        text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    )


def dumped(text: str | bytes) -> str:
    return dump(parsed(text))


def parse_error(text: str | bytes) -> DockerfileParseError:
    with pytest.raises(DockerfileParseError) as caught:
        parsed(text)
    return caught.value


# Directives


def test_escape_directive_backtick() -> None:
    result = parsed("# escape=`\nFROM x\nRUN a `\n  b\n")
    assert result.escape_token == "`"
    assert result.instructions[1].args == ["a   b"]


def test_escape_directive_records_line() -> None:
    result = parsed("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\n")
    assert result.directives == {
        "syntax": ("docker/dockerfile:1", 1),
        "escape": ("`", 2),
    }


def test_directive_after_comment_ignored() -> None:
    result = parsed("# ordinary comment\n# escape=`\nFROM x\nRUN a `\n  two\n")
    assert result.escape_token == "\\"
    assert [ins.keyword for ins in result.instructions] == ["from", "run", "two"]


def test_directive_after_blank_line_ignored() -> None:
    result = parsed("\n# escape=`\nFROM x\n")
    assert result.directives == {}


def test_directive_key_case_insensitive() -> None:
    assert parsed("#  ESCAPE =  `  \nFROM x\n").escape_token == "`"


def test_check_directive_recorded() -> None:
    result = parsed("# check=skip=all;error=true\nFROM x\n")
    assert result.directives["check"] == ("skip=all;error=true", 1)


def test_directive_not_in_prev_comment() -> None:
    result = parsed("# syntax=x\n# about the stage\nFROM x\n")
    assert result.instructions[0].prev_comment == ["about the stage"]


def test_duplicate_directive_error() -> None:
    error = parse_error("# escape=`\n# escape=\\\nFROM x\n")
    assert str(error) == "only one escape parser directive can be used"
    assert error.location is not None
    assert error.location.line == 2


def test_invalid_escape_token_error() -> None:
    error = parse_error("# escape=x\nFROM x\n")
    assert str(error) == "invalid escape token 'x' does not match ` or \\"
    assert error.location is not None
    assert error.location.line == 1


def test_late_escape_directive_makes_unknown_instruction() -> None:
    text = (
        "# this ordinary comment ends the directive section\n# escape=`\n"
        "FROM busybox:1.36\nRUN printf '%s\\n' one `\n    two > /r04.txt\n"
    )
    with pytest.raises(DockerfileParseError) as caught:
        parse_instructions(parsed(text))
    assert str(caught.value) == "unknown instruction: two"
    assert caught.value.location is not None
    assert caught.value.location.line == 5


# Continuation lines and comments


def test_continuation_joins_without_separator() -> None:
    assert parsed("RUN a\\\nb\n").instructions[0].args == ["ab"]


def test_continuation_keeps_leading_whitespace() -> None:
    assert parsed("RUN a \\\n    b\n").instructions[0].args == ["a     b"]


def test_keyword_split_by_continuation() -> None:
    text = "FROM b\nEN\\\n# comment\nV R03=yes\nRU\\\n# another\nN test\n"
    keywords = [ins.keyword for ins in parsed(text).instructions]
    assert keywords == ["from", "env", "run"]


def test_inline_comment_with_backslash_continues() -> None:
    text = "FROM b\nRUN a # note \\\nRUN b\n# whole line \\\nRUN c\n"
    result = parsed(text)
    assert [ins.args for ins in result.instructions[1:]] == [["a # note RUN b"], ["c"]]


def test_comment_inside_continuation_dropped() -> None:
    result = parsed("RUN a \\\n  # note\n  b\n")
    assert result.instructions[0].args == ["a   b"]
    assert result.instructions[0].end_line == 3


def test_empty_continuation_line_warns() -> None:
    result = parsed("FROM x\nRUN a \\\n\n  b\n")
    assert [(w.rule, w.line) for w in result.warnings] == [("NoEmptyContinuation", 4)]
    assert result.warnings[0].message == "Empty continuation line found in: RUN a   b"


def test_escaped_backslash_does_not_continue() -> None:
    result = parsed("ENV C trailing\\\\\nENV D next\n")
    assert len(result.instructions) == 2


def test_escaped_backslash_then_token_does_not_continue() -> None:
    # BuildKit's regex cannot see "\\\\\\" as an escaped backslash plus a
    # continuation, so the instruction ends there.
    result = parsed("RUN a\\\\\\\nRUN b\n")
    assert [ins.args for ins in result.instructions] == [["a\\\\\\"], ["b"]]


def test_blanks_after_token_still_continue() -> None:
    assert parsed("RUN a \\ \t\nb\n").instructions[0].args == ["a b"]


def test_continuation_at_end_of_file() -> None:
    result = parsed("FROM x\nRUN a \\")
    assert result.instructions[1].args == ["a"]


def test_line_of_only_token_is_empty_instruction() -> None:
    assert dumped("FROM x\n\\\n") == '(from "x")\n("")\n'


def test_prev_comment_collected() -> None:
    result = parsed("# one\n#two\n\nFROM x\n#\nRUN a\n")
    assert result.instructions[0].prev_comment == ["one", "two"]
    assert result.instructions[1].prev_comment == []


# Bytes, limits and splitting


def test_bom_dropped() -> None:
    assert dumped(b"\xef\xbb\xbfFROM x\n") == '(from "x")\n'


def test_crlf_line_endings() -> None:
    assert dumped(b"FROM x\r\nRUN a \\\r\n b\r\n") == '(from "x")\n(run "a  b")\n'


def test_line_at_limit_accepted() -> None:
    text = "RUN " + "a" * (65535 - 4) + "\n"
    assert len(parsed(text).instructions[0].args[0]) == 65531


def test_long_line_error() -> None:
    error = parse_error("FROM x\nRUN " + "a" * 65532 + "\n")
    assert str(error) == "dockerfile line greater than max allowed size of 65535"
    assert error.location is not None
    assert error.location.line == 2


def test_unknown_keyword_dumps_empty_argument() -> None:
    assert dumped("FOO bar baz\n") == '(foo "")\n'


def test_keyword_case_kept() -> None:
    instruction = parsed("Run a\n").instructions[0]
    assert (instruction.keyword, instruction.raw_keyword) == ("run", "Run")


def test_original_is_joined_line() -> None:
    instruction = parsed("  RUN a \\\n  b  \n").instructions[0]
    assert instruction.original == "RUN a   b  "


def test_debug_parse(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text('FROM x\nCMD ["a"]\n')
    assert debug_parse(path) == '(from "x")\n(cmd "a")\n'


# Flags


def test_flags_quotes_removed() -> None:
    result = parsed("RUN --a=\"b c\" --d='e\\'f' x\n")
    assert result.instructions[0].flags == ["--a=b c", "--d=e'f"]
    assert result.instructions[0].args == ["x"]


def test_flags_use_backslash_under_backtick_escape() -> None:
    result = parsed('# escape=`\nRUN --a=b\\`c`"d" x\n')
    assert result.instructions[0].flags == ["--a=b`c`d"]


def test_flag_terminator() -> None:
    assert parsed("RUN -- --x y\n").instructions[0].args == ["--x y"]
    assert parsed('RUN --"" --x y\n').instructions[0].flags == []


def test_flags_only_before_arguments() -> None:
    assert parsed("COPY a --chown=1 b\n").instructions[0].flags == []


def test_flag_bytes_read_one_by_one() -> None:
    # BuildKit turns each byte of a flag into a rune, and 0xA0 (the second
    # byte of "à") is a blank to unicode.IsSpace.
    result = parsed("RUN --foo=à x\n")
    assert result.instructions[0].flags == ["--foo=\xc3"]
    assert result.instructions[0].args == ["x"]


# JSON


def test_json_form() -> None:
    instruction = parsed('CMD ["a", "b c"]\n').instructions[0]
    assert (instruction.args, instruction.json) == (["a", "b c"], True)


@pytest.mark.parametrize(
    "text", ['CMD ["a", NaN]', 'CMD ["a"] x', "CMD ['a']", 'CMD ["a", 1e400]']
)
def test_invalid_json_falls_back_to_shell(text: str) -> None:
    instruction = parsed(text + "\n").instructions[0]
    assert (instruction.args, instruction.json) == ([text[4:]], False)


def test_json_non_string_error() -> None:
    error = parse_error('FROM x\nCMD ["a", ["b"]]\n')
    assert (
        str(error)
        == "when using JSON array syntax, arrays must be comprised of strings only"
    )
    assert error.location is not None
    assert error.location.line == 2


# Heredocs


def heredocs(text: str) -> list[tuple[str, str, int, bool, bool]]:
    instruction = parsed(text).instructions[-1]
    return [
        (doc.name, doc.content, doc.file_descriptor, doc.expand, doc.chomp)
        for doc in instruction.heredocs
    ]


def test_heredoc_body() -> None:
    assert heredocs("RUN <<EOF\necho hi\nEOF\n") == [
        ("EOF", "echo hi\n", 0, True, False)
    ]


def test_heredoc_body_after_continued_line() -> None:
    text = "FROM b\nRUN cat <<EOT > /r \\\n    && echo after\nline one\nEOT\n"
    result = parsed(text)
    assert result.instructions[1].args == ["cat <<EOT > /r     && echo after"]
    assert result.instructions[1].heredocs[0].content == "line one\n"
    assert result.instructions[1].end_line == 5


def test_heredoc_on_continued_line() -> None:
    text = "FROM b\nRUN echo s && \\\n    cat <<EOT\nfrom heredoc\nEOT\nRUN echo done\n"
    result = parsed(text)
    assert [ins.keyword for ins in result.instructions] == ["from", "run", "run"]
    assert result.instructions[1].heredocs[0].content == "from heredoc\n"


def test_two_heredocs_read_in_order() -> None:
    text = "COPY <<A <<B /d\na\nA\nb\nB\n"
    assert [doc[:2] for doc in heredocs(text)] == [("A", "a\n"), ("B", "b\n")]


def test_heredoc_chomp_matches_tabbed_terminator() -> None:
    text = "RUN <<-EOT\n\techo tabs\n\tEOT\n"
    assert heredocs(text) == [("EOT", "\techo tabs\n", 0, True, True)]


@pytest.mark.parametrize(
    ("opener", "name", "expand"),
    [
        ("<<'EOF'", "EOF", False),
        ('<<"EOF"', "EOF", False),
        ('<<E"O"F', "EOF", False),
        ("<<eo\\'f", "eo'f", True),
        ("<<EOF", "EOF", True),
    ],
)
def test_heredoc_quoting(opener: str, name: str, expand: bool) -> None:
    docs = heredocs(f"RUN cat {opener}\nbody\n{name}\n")
    assert [(doc[0], doc[3]) for doc in docs] == [(name, expand)]


def test_heredoc_file_descriptor() -> None:
    assert heredocs("RUN cat 3<<IN\nx\nIN\n")[0][2] == 3


def test_heredoc_with_space_after_opener() -> None:
    assert heredocs("RUN cat << EOF\nx\nEOF\n")[0][:2] == ("EOF", "x\n")


@pytest.mark.parametrize(
    "text",
    ['RUN ["cat", "<<EOF"]\n', "RUN cat <<<x\n", "RUN echo '<<EOF'\n", "CMD <<EOF\n"],
)
def test_not_a_heredoc(text: str) -> None:
    assert heredocs(text) == []


def test_onbuild_heredoc() -> None:
    assert heredocs("ONBUILD RUN <<EOF\nx\nEOF\n") == [("EOF", "x\n", 0, True, False)]


def test_unterminated_heredoc_error() -> None:
    error = parse_error("FROM b\nRUN <<EOT\n  echo hi\n  EOT\n")
    assert str(error) == "unterminated heredoc"
    assert error.location is not None
    assert error.location.line == 2


def test_heredoc_last_line_without_newline() -> None:
    assert heredocs("RUN <<A\nx\nA")[0][1] == "x\n"


# The grammar path


def test_grammar_handles_quoted_words() -> None:
    before = line.grammar_lines
    assert parsed('ENV a="b c"\n').instructions[0].args == ["a", '"b c"', "="]
    assert line.grammar_lines == before + 1


def test_grammar_dir_holds_grammar() -> None:
    assert (grammar.grammar_dir() / "dockerfile.lark").is_file()


def test_grammar_without_cache_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "sub"))
    monkeypatch.setattr(grammar, "_parsers", {})
    assert grammar.cache_dir() is None
    shape = grammar.parse_with_grammar('LABEL a="b"', "\\")
    assert shape.args == ["a", '"b"', "="]


def test_grammar_writes_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(grammar, "_parsers", {})
    grammar.parse_with_grammar("LABEL `a b`", "`")
    assert (tmp_path / "minikit" / "dockerfile-backtick.lark.cache").is_file()
