"""Parsing work grows linearly with the file: 8 times the lines, about 8 times the calls."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from minikit.frontend.instructions import parse_instructions
from minikit.frontend.parser import parse

BLOCK = """\
# a comment line
FROM base:1 AS stage{n}
ARG VERSION=1.{n} OTHER="quoted value"
ENV PATH=/opt/bin:$PATH HOME="/home/user {n}"
LABEL org.example.rev={n} org.example.name='name {n}'
RUN apt-get update \\
    # a comment inside a continuation
    && apt-get install -y curl \\
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/root/.cache --network=none make build{n}
COPY --chown=1000:1000 ["a b", "/dst/"]
COPY <<EOT /etc/config{n}
key=value {n}
EOT
HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1
ONBUILD RUN echo trigger {n}
EXPOSE 80/tcp 443
WORKDIR /srv/app
CMD ["run", "{n}"]
"""


def count_calls(text: str) -> int:
    """Return the Python and C function calls made while parsing ``text``."""
    calls = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(profile)
    try:
        parse_instructions(parse(text))
    finally:
        sys.setprofile(None)
    return calls


def test_work_is_linear() -> None:
    small = "".join(BLOCK.format(n=n) for n in range(20))
    large = "".join(BLOCK.format(n=n) for n in range(160))
    count_calls(small)  # load the grammar and fill the regex caches first
    ratio = count_calls(large) / count_calls(small)
    assert ratio <= 8.5, ratio


def test_long_line_is_linear() -> None:
    small = "FROM x\nRUN " + "word " * 1500 + "<<X\nbody\nX\n"
    large = "FROM x\nRUN " + "word " * 12000 + "<<X\nbody\nX\n"
    count_calls(small)
    ratio = count_calls(large) / count_calls(small)
    assert ratio <= 8.5, ratio
