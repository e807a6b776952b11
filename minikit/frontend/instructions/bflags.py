"""Instruction flags (``--name=value``) parsed like BuildKit's ``BFlags``.

An instruction declares the flags it takes, then :meth:`BFlags.parse` reads
the flag words that the parser extracted. Bool flags take ``--f``,
``--f=true`` or ``--f=false``, string flags need ``=value``, and strings
flags may repeat. Any other repeat is an error, and so is an undeclared flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from minikit.frontend.instructions.suggest import did_you_mean


class FlagKind(Enum):
    """The kind of value a flag takes."""

    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


class FlagError(ValueError):
    """A flag word that the instruction does not accept."""

    def __init__(self, message: str, word: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.word = word  # the flag word as the parser extracted it
        self.hint = hint


@dataclass
class Flag:
    """One declared flag and the value it ended up with."""

    name: str
    kind: FlagKind
    value: str = ""
    values: list[str] = field(default_factory=list)
    used: bool = False

    @property
    def is_true(self) -> bool:
        """Whether a bool flag is set to true."""
        return self.value == "true"


class BFlags:
    """The flags of one instruction: declare them, then call :meth:`parse`."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.flags: dict[str, Flag] = {}

    def add_bool(self, name: str, default: bool = False) -> Flag:
        """Declare a bool flag."""
        return self._add(Flag(name, FlagKind.BOOL, "true" if default else "false"))

    def add_string(self, name: str, default: str = "") -> Flag:
        """Declare a flag that takes one value."""
        return self._add(Flag(name, FlagKind.STRING, default))

    def add_strings(self, name: str) -> Flag:
        """Declare a flag that may repeat, collecting every value."""
        return self._add(Flag(name, FlagKind.STRINGS))

    def _add(self, flag: Flag) -> Flag:
        if flag.name in self.flags:
            raise ValueError(f"flag {flag.name!r} declared twice")
        self.flags[flag.name] = flag
        return flag

    def parse(self) -> None:
        """Assign the flag words to the declared flags; raise :class:`FlagError`."""
        for word in self.words:
            self._parse_word(word)

    def _parse_word(self, word: str) -> None:
        if not word.startswith("--"):
            raise FlagError(f"arguments must begin with '--': {word}", word)
        name, has_value, value = word[2:].partition("=")
        flag = self.flags.get(name)
        if flag is None:
            hint = did_you_mean(name, self.flags, case_sensitive=True)
            raise FlagError(f"unknown flag: --{name}", word, hint)
        if flag.used and flag.kind is not FlagKind.STRINGS:
            raise FlagError(f"duplicate flag specified: {name}", word)
        flag.used = True
        if flag.kind is FlagKind.BOOL:
            flag.value = _bool_value(name, has_value, value, word)
        elif not has_value:
            raise FlagError(f"missing a value on flag: {name}", word)
        elif flag.kind is FlagKind.STRING:
            flag.value = value
        else:
            flag.values.append(value)


def _bool_value(name: str, has_value: str, value: str, word: str) -> str:
    if has_value and value == "":
        raise FlagError(f"missing a value on flag: {name}", word)
    lowered = value.lower()
    if lowered in ("", "true"):
        return "true"
    if lowered == "false":
        return "false"
    raise FlagError(f"expecting boolean value for flag {name}, not: {value}", word)
