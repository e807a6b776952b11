"""Build checks: BuildKit's Dockerfile lint rules, reported as warnings with a line."""

from minikit.frontend.linter.linter import (
    CheckOptions,
    Linter,
    LintWarning,
    parse_check_options,
)
from minikit.frontend.linter.rules import RULES, Rule, kebab_case

__all__ = [
    "RULES",
    "CheckOptions",
    "LintWarning",
    "Linter",
    "Rule",
    "kebab_case",
    "parse_check_options",
]
