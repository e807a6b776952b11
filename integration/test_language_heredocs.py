"""Heredocs end to end, ported from BuildKit's heredoc integration tests.

One Dockerfile covers COPY heredocs (several per line, modes, owners,
special characters, expansion, indentation), RUN heredocs (run by the
shell, by another SHELL, by a shebang interpreter, in pipes, on continued
lines and on file descriptors) and an ONBUILD RUN heredoc. It is built once;
each test checks one file of the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DOCKERFILE = r"""FROM busybox:1.36 AS base
ONBUILD RUN <<EOF
echo onbuild > /onbuild.txt
EOF

FROM base AS child

FROM busybox:1.36
ARG name=world
RUN mkdir -p /out
COPY <<EOF /out/single
hello
EOF
COPY <<EOF <<EOF2 /out/dir/
one
EOF
two
EOF2
COPY --chmod=777 <<EOF /out/mode777
x
EOF
COPY --chown=user:staff <<EOF /out/owned
y
EOF
COPY <<EOF /out/special
"quoted" \
next \\ \$name
EOF
COPY <<"EOF" /out/special-literal
"quoted" \
next \\ \$name
EOF
RUN <<EOF
echo basic > /out/basic
echo second >> /out/basic
EOF
SHELL ["/usr/bin/awk"]
RUN <<EOF
BEGIN { print "fake" > "/out/fake" }
EOF
SHELL ["/bin/sh", "-c"]
RUN <<EOF
#!/usr/bin/awk -f
BEGIN { print "shebang" > "/out/shebang" }
EOF
RUN <<-EOF
	#!/usr/bin/awk -f
	BEGIN { print "shebang-dash" > "/out/shebang-dash" }
	EOF
RUN cat <<A | tr a-z A-Z > /out/pipe
abc
A
RUN cat <<A > /out/two \
 && cat <<B >> /out/two
first
A
second
B
RUN 3<<IN1 4<<IN2 cat /proc/self/fd/3 /proc/self/fd/4 > /out/fds
in1
IN1
in2
IN2
COPY <<EOF /out/keep-tabs
	tab
EOF
COPY <<-EOF /out/strip-tabs
	tab
	EOF
RUN <<-EOF sh > /out/run-dash
	echo "	run-dash"
	EOF
COPY <<EOF /out/var-copy
hello "$name"
EOF
COPY <<'EOF' /out/var-copy-quoted
hello "$name"
EOF
RUN <<EOF
name=shell
echo "hello $name" > /out/var-run
EOF
RUN <<EOF
echo "$name" > /out/run-env
EOF
COPY --from=child /onbuild.txt /out/onbuild
"""


@pytest.fixture(scope="module")
def heredocs(run_minikit, base_image, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("heredocs")
    (folder / "Dockerfile").write_text(DOCKERFILE)
    out = folder / "out"
    run_minikit(
        ["build", "--progress=plain", "-o", f"type=local,dest={out}", "."], cwd=folder
    )
    return out / "out"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("single", "hello\n"),
        ("dir/EOF", "one\n"),
        ("dir/EOF2", "two\n"),
        ("special", '"quoted" \nnext \\ $name\n'),
        ("special-literal", '"quoted" \\\nnext \\\\ \\$name\n'),
        ("basic", "basic\nsecond\n"),
        ("fake", "fake\n"),
        ("shebang", "shebang\n"),
        ("shebang-dash", "shebang-dash\n"),
        ("pipe", "ABC\n"),
        ("two", "first\nsecond\n"),
        ("fds", "in1\nin2\n"),
        ("keep-tabs", "\ttab\n"),
        ("strip-tabs", "tab\n"),
        ("run-dash", "\trun-dash\n"),
        ("var-copy", 'hello "world"\n'),
        ("var-copy-quoted", 'hello "$name"\n'),
        ("var-run", "hello shell\n"),
        ("run-env", "world\n"),
        ("onbuild", "onbuild\n"),
    ],
)
def test_heredoc_file(heredocs, name, content):
    assert (heredocs / name).read_text() == content


def test_heredoc_chmod(heredocs):
    assert (heredocs / "mode777").stat().st_mode & 0o7777 == 0o777


def test_heredoc_default_mode(heredocs):
    assert (heredocs / "single").stat().st_mode & 0o7777 == 0o644


def test_heredoc_chown(heredocs):
    owned = (heredocs / "owned").stat()
    assert (owned.st_uid, owned.st_gid) == (1000, 50)
