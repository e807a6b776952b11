"""Shell lexer rules beyond the conformance rows: error texts, modifiers, options."""

from __future__ import annotations

import pytest

from minikit.errors import ShellExpansionError
from minikit.frontend.shell import Lexer

ENV = {"SET": "v", "EMPTY": "", "PATHLIKE": "/usr/local/bin", "FILE": "a.tar.gz"}


def expand(word: str, env: dict[str, str] = ENV, **options: bool) -> str:
    return Lexer("\\", **options).process_word(word, env)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${Y:-z", "syntax error: missing '}'"),
        ("${Y", "syntax error: missing '}'"),
        ("${", "syntax error: missing '}'"),
        ("${:Y}", "syntax error: bad substitution"),
        ("${}", "syntax error: bad substitution"),
        ("${{a}", "syntax error: bad substitution"),
        ("${Y:x}", "unsupported modifier (:x) in substitution"),
        ("${Y=x}", "unsupported modifier (=) in substitution"),
        ("${Y:=x}", "unsupported modifier (:=) in substitution"),
        ("${Y:#x}", "unsupported modifier (:#) in substitution"),
        ("${Y?}", "Y: is not allowed to be unset"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${Y:?Y must be set}", "Y: Y must be set"),
        ("${Y//x}", "syntax error: missing '/' in ${}"),
        ("${SET#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
        (
            "'open",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            '"open',
            "unexpected end of statement while looking for matching double-quote",
        ),
    ],
)
def test_error_message(word: str, message: str) -> None:
    with pytest.raises(ShellExpansionError) as caught:
        expand(word)
    assert str(caught.value) == f'failed to process "{word}": {message}'.replace(
        '"' + word + '"', _go_quote(word)
    )


def _go_quote(word: str) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_error_has_no_location() -> None:
    with pytest.raises(ShellExpansionError) as caught:
        expand("${Y?}")
    assert caught.value.location is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${UNSET-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${EMPTY:-dflt}", "dflt"),
        ("${UNSET:+alt}", ""),
        ("${SET:+alt}", "alt"),
        ("${EMPTY+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "a.tar"),
        ("${FILE%%.*}", "a"),
        ("${PATHLIKE/local/opt}", "/usr/opt/bin"),
        ("${PATHLIKE//\\//:}", ":usr:local:bin"),
        ("${PATHLIKE/#/x}", "/usr/local/bin"),
        ("${FILE/a/}", ".tar.gz"),
        ("${FILE/?/X}", "X.tar.gz"),
        ("${FILE//[a]/X}", "a.tar.gz"),
        ("${SET/v/$$}", ""),
        ("${SET//v/\\$0}", "\\v"),
        ("${UNSET:-${SET}x}", "vx"),
        ("$SET$UNSET", "v"),
        ("\\$SET", "$SET"),
        ("a$", "a$"),
    ],
)
def test_modifier(word: str, expected: str) -> None:
    assert expand(word) == expected


def test_backtick_escape_token() -> None:
    lexer = Lexer("`")
    assert lexer.process_word("a`$SET\\b", ENV) == "a$SET\\b"


def test_skip_unset_env_keeps_reference() -> None:
    assert expand("$UNSET ${UNSET} ${UNSET:-x}", skip_unset_env=True) == (
        "$UNSET ${UNSET} ${UNSET:-x}"
    )


def test_raw_quotes_keep_quotes() -> None:
    assert expand("'a' \"b\"", raw_quotes=True) == "'a' \"b\""


def test_raw_escapes_keep_escape() -> None:
    assert expand("a\\ b", raw_escapes=True) == "a\\ b"


def test_skip_process_quotes_expands_inside_quotes() -> None:
    assert expand("'$SET' \"x\"", skip_process_quotes=True) == "'v' \"x\""


def test_words_split_unquoted_expansion() -> None:
    words = Lexer().process_words("a${SP}b \"${SP}\" ''c", {"SP": " x  y "})
    assert words == ["a", "x", "y", "b", " x  y ", "c"]


def test_matches_and_unmatched() -> None:
    result, found, missing = Lexer().process_word_with_matches("$SET ${NOPE:-d}", ENV)
    assert result == "v d"
    assert found == {"SET"}
    assert missing == {"NOPE"}


def test_plain_word_has_no_matches() -> None:
    assert Lexer().process_word_with_matches("plain", ENV) == ("plain", set(), set())


def test_invalid_escape_token_rejected() -> None:
    with pytest.raises(ValueError):
        Lexer("x")
