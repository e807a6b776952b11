"""BuildKit's build-check rules: names, descriptions and message formats.

The names, descriptions and messages follow BuildKit's
``frontend/dockerfile/linter/ruleset.go``, as far as it is known here. The
documentation URL of a rule is ``https://docs.docker.com/go/dockerfile/rule/``
plus its name in kebab case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULE_URL_BASE = "https://docs.docker.com/go/dockerfile/rule/"


@dataclass(frozen=True)
class Rule:
    """One build check."""

    name: str
    description: str
    experimental: bool = False

    @property
    def url(self) -> str:
        """The rule's documentation page."""
        return RULE_URL_BASE + kebab_case(self.name) + "/"


def kebab_case(name: str) -> str:
    """Return ``JSONArgsRecommended`` as ``json-args-recommended``."""
    words = re.findall(
        r"[A-Z]+(?=[A-Z][a-z]|\b|[0-9])|[A-Z]?[a-z]+|[0-9]+|[A-Z]+", name
    )
    return "-".join(word.lower() for word in words)


_RULES = [
    Rule("StageNameCasing", "Stage names should be lowercase"),
    Rule(
        "FromAsCasing", "The 'as' keyword should match the case of the 'from' keyword"
    ),
    Rule(
        "NoEmptyContinuation",
        "Empty continuation lines will become errors in a future release",
    ),
    Rule(
        "ConsistentInstructionCasing",
        "All commands within the Dockerfile should use the same casing "
        "(either upper or lower)",
    ),
    Rule("DuplicateStageName", "Stage names should be unique"),
    Rule("ReservedStageName", "Reserved words should not be used as stage names"),
    Rule(
        "JSONArgsRecommended",
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior "
        "related to OS signals",
    ),
    Rule(
        "MaintainerDeprecated",
        "The MAINTAINER instruction is deprecated, use a label instead to define an "
        "image author",
    ),
    Rule("UndefinedArgInFrom", "FROM command must use declared ARGs"),
    Rule(
        "WorkdirRelativePath",
        "Relative workdir without an absolute workdir declared within the build can "
        "have unexpected results if the base image changes",
    ),
    Rule("UndefinedVar", "Variables should be defined before their use"),
    Rule(
        "MultipleInstructionsDisallowed",
        "Multiple instructions of the same type should not be used in the same stage",
    ),
    Rule(
        "LegacyKeyValueFormat",
        "Legacy key/value format with whitespace separator should not be used",
    ),
    Rule(
        "InvalidBaseImagePlatform",
        "Base image platform does not match expected target platform",
    ),
    Rule(
        "RedundantTargetPlatform",
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this "
        "is the default behavior",
    ),
    Rule(
        "SecretsUsedInArgOrEnv",
        "Sensitive data should not be used in the ARG or ENV commands",
    ),
    Rule(
        "InvalidDefaultArgInFrom",
        "Default value for global ARG results in an empty or invalid base image name",
    ),
    Rule(
        "FromPlatformFlagConstDisallowed",
        "FROM --platform flag should not use a constant value",
    ),
    Rule(
        "CopyIgnoredFile",
        "Attempting to Copy file that is excluded by .dockerignore",
        experimental=True,
    ),
    Rule(
        "InvalidDefinitionDescription",
        "Comment for build stage or argument should follow the format: "
        "`# <arg/stage name> <description>`. If this is not intended to be a "
        "description comment, add an empty line or comment between the instruction "
        "and the comment.",
        experimental=True,
    ),
    Rule("ExposeProtoCasing", "Protocol in EXPOSE instruction should be lowercase"),
    Rule(
        "ExposeInvalidFormat",
        "IP address and host-port mapping should not be used in EXPOSE instruction. "
        "This will become an error in a future release",
    ),
]

RULES: dict[str, Rule] = {rule.name: rule for rule in _RULES}


def rule_for(name: str) -> Rule:
    """Return the rule called ``name``, or one without description if it is unknown."""
    return RULES.get(name) or Rule(name, "")
