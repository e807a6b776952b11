"""The Dockerfile-language cases in ``integration/cases/``, built with ``minikit build``.

Each case folder holds a Dockerfile (or several) and ``case.md`` with the
observable that BuildKit users reported. A folder is copied into a
temporary directory, keeping its symbolic links, and built once per
module; every test then checks one part of the observable.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.oci_tools import ImageContents, read_oci_archive

CASES = Path(__file__).resolve().parent / "cases"
HISTORY_COMMENT = "buildkit.dockerfile.v0"


@dataclass
class Build:
    """One ``minikit build`` of a case: its folder, the process and its outputs."""

    folder: Path
    result: subprocess.CompletedProcess[str]

    @property
    def out(self) -> Path:
        return self.folder / "out"

    def text(self, name: str, out: str = "out") -> str:
        return (self.folder / out / name).read_text()

    def image(self, name: str = "out.tar") -> ImageContents:
        return read_oci_archive(self.folder / name)


class CaseBuilder:
    """Copies case folders and runs ``minikit build`` in them."""

    def __init__(self, run_minikit, root: Path) -> None:
        self.run_minikit = run_minikit
        self.root = root
        self.copies: dict[str, Path] = {}

    def folder(self, case: str) -> Path:
        if case not in self.copies:
            target = self.root / case
            shutil.copytree(CASES / case, target, symlinks=True)
            self.copies[case] = target
        return self.copies[case]

    def __call__(
        self, case: str, *args: str, check: bool = True, cwd: str = ""
    ) -> Build:
        folder = self.folder(case)
        workdir = folder / cwd if cwd else folder
        command = ["build", "--progress=plain", *args, "."]
        result = self.run_minikit(command, cwd=workdir, check=check)
        return Build(folder, result)


@pytest.fixture(scope="module")
def build_case(run_minikit, base_image, tmp_path_factory) -> CaseBuilder:
    return CaseBuilder(run_minikit, tmp_path_factory.mktemp("language-cases"))


def _failed(build: Build) -> str:
    assert build.result.returncode != 0
    assert "Traceback" not in build.result.stderr
    return build.result.stderr


def _own_history(image: ImageContents) -> list[str]:
    return [
        entry["created_by"]
        for entry in image.history
        if entry.get("comment") == HISTORY_COMMENT
    ]


# continuation-after-inline-comment ---------------------------------------


@pytest.fixture(scope="module")
def inline_comment(build_case) -> Build:
    return build_case(
        "continuation-after-inline-comment",
        "-o", "type=local,dest=out",
        "-o", "type=oci,dest=out.tar",
    )  # fmt: skip


def test_inline_comment_joins_next_line(inline_comment):
    assert inline_comment.text("r01.txt") == "first\nthird\n"


def test_inline_comment_two_run_entries(inline_comment):
    runs = [
        line for line in _own_history(inline_comment.image()) if line.startswith("RUN ")
    ]
    assert len(runs) == 2


def test_inline_comment_step_shows_joined_text(inline_comment):
    assert "RUN printf 'second" in inline_comment.result.stderr


# keyword-split-by-continuation -------------------------------------------


@pytest.fixture(scope="module")
def split_keyword(build_case) -> Build:
    return build_case(
        "keyword-split-by-continuation",
        "-o", "type=local,dest=out",
        "-o", "type=oci,dest=out.tar",
    )  # fmt: skip


def test_split_keyword_runs(split_keyword):
    assert split_keyword.text("r03.txt") == "split keyword ok\n"


def test_split_keyword_three_instructions(split_keyword):
    history = _own_history(split_keyword.image())
    assert history == [
        "ENV R03=yes",
        (
            "RUN /bin/sh -c test \"$R03\" = yes && printf 'split keyword ok\\n' > "
            "/r03.txt # buildkit"
        ),
    ]


# escape-directive-position -----------------------------------------------


def test_escape_directive_at_top(build_case):
    build = build_case(
        "escape-directive-position", "-f", "Dockerfile", "-o", "type=local,dest=out"
    )
    assert build.text("r04.txt") == "one\ntwo\n"


@pytest.mark.parametrize(
    "dockerfile", ["Dockerfile.late-directive", "Dockerfile.blank-first"]
)
def test_escape_directive_too_late(build_case, dockerfile):
    build = build_case(
        "escape-directive-position",
        "-f", dockerfile,
        "-o", f"type=local,dest=out-{dockerfile}",
        check=False,
    )  # fmt: skip
    stderr = _failed(build)
    assert "unknown instruction: two" in stderr
    assert f"{dockerfile}:5" in stderr
    assert not (build.folder / f"out-{dockerfile}").exists()


# heredoc-body-start-and-end ----------------------------------------------


def test_heredoc_body_after_continued_line(build_case):
    build = build_case(
        "heredoc-body-start-and-end", "-f", "Dockerfile", "-o", "type=local,dest=out"
    )
    assert build.text("r06.txt") == "line one\nafter\n"


def test_heredoc_terminator_with_spaces(build_case):
    build = build_case(
        "heredoc-body-start-and-end",
        "-f", "Dockerfile.unterminated",
        "-o", "type=local,dest=out-unterminated",
        check=False,
    )  # fmt: skip
    stderr = _failed(build)
    assert "unterminated heredoc" in stderr
    assert "Dockerfile.unterminated:2" in stderr


def test_heredoc_dash_strips_tabs(build_case):
    folder = build_case.folder("heredoc-body-start-and-end")
    assert "\tEOT" in (folder / "Dockerfile.tabs").read_text()
    build = build_case(
        "heredoc-body-start-and-end",
        "-f", "Dockerfile.tabs",
        "-o", "type=local,dest=out-tabs",
    )  # fmt: skip
    assert build.text("r06-tabs.txt", out="out-tabs") == "tabs-ok\n"


# heredoc-on-continued-line -----------------------------------------------


@pytest.fixture(scope="module")
def continued_heredoc(build_case) -> Build:
    return build_case(
        "heredoc-on-continued-line",
        "-o", "type=local,dest=out",
        "-o", "type=oci,dest=out.tar",
    )  # fmt: skip


def test_continued_heredoc_content(continued_heredoc):
    assert continued_heredoc.text("r07.txt") == "start\nfrom heredoc\ndone\n"


def test_continued_heredoc_two_runs(continued_heredoc):
    history = _own_history(continued_heredoc.image())
    assert [line.split()[0] for line in history] == ["RUN", "RUN"]


# copy-heredoc-expansion --------------------------------------------------


@pytest.fixture(scope="module")
def copy_heredoc(build_case) -> Build:
    return build_case("copy-heredoc-expansion", "-o", "type=local,dest=out")


def test_copy_heredoc_expands_unquoted(copy_heredoc):
    assert copy_heredoc.text("r09-expanded.txt") == (
        'say "hello" to world, it\'s world\nescapes: C:temp $WHO \\x\n'
    )


def test_copy_heredoc_quoted_is_literal(copy_heredoc):
    assert copy_heredoc.text("r09-literal.txt") == (
        'say "hello" to ${WHO}, it\'s $WHO\nescapes: C:\\temp \\$WHO \\\\x\n'
    )


def test_copy_heredoc_default_mode(copy_heredoc):
    assert (copy_heredoc.out / "r09-literal.txt").stat().st_mode & 0o7777 == 0o644


def test_copy_heredoc_chmod(copy_heredoc):
    script = copy_heredoc.out / "r09-script.sh"
    assert script.stat().st_mode & 0o7777 == 0o755
    assert script.read_text() == "#!/bin/sh\necho ok\n"


def test_copy_heredoc_build_arg(build_case, copy_heredoc):
    build = build_case(
        "copy-heredoc-expansion",
        "--build-arg",
        "WHO=team",
        "-o",
        "type=local,dest=out2",
    )
    first = build.text("r09-expanded.txt", out="out2").splitlines()[0]
    assert first == 'say "hello" to team, it\'s team'


# arg-scope-across-stages -------------------------------------------------


@pytest.fixture(scope="module")
def arg_scope(build_case) -> Build:
    return build_case(
        "arg-scope-across-stages",
        "--build-arg", "SIZE=xl",
        "-o", "type=local,dest=out",
        "-o", "type=oci,dest=out.tar",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("r11-before.txt", "color=[] size=[]\n"),
        ("r11-after.txt", "color=[red] size=[xl]\n"),
        ("r11-derived.txt", "color=[red]\n"),
        ("r11-unrelated.txt", "color=[]\n"),
    ],
)
def test_arg_scope_files(arg_scope, name, content):
    assert arg_scope.text(name) == content


def test_arg_scope_not_in_env(arg_scope):
    env = arg_scope.image().config["config"]["Env"]
    names = {item.partition("=")[0] for item in env}
    assert "COLOR" not in names
    assert "SIZE" not in names


# copy-from-no-expansion --------------------------------------------------


def test_copy_from_variable_rejected(build_case):
    build = build_case(
        "copy-from-no-expansion", "-f", "Dockerfile", "-o", "type=local,dest=out",
        check=False,
    )  # fmt: skip
    stderr = _failed(build)
    assert "variable expansion is not supported for --from" in stderr
    assert "Dockerfile:6" in stderr
    assert not (build.folder / "out").exists()


def test_copy_from_alias_stage(build_case):
    build = build_case(
        "copy-from-no-expansion",
        "-f", "Dockerfile.workaround",
        "-o", "type=local,dest=out-alias",
    )  # fmt: skip
    assert (build.folder / "out-alias" / "r13-busybox").is_file()


# substitution-errors-and-modifiers ---------------------------------------


@pytest.mark.parametrize(
    ("dockerfile", "args", "message"),
    [
        ("Dockerfile.missing-brace", (), "syntax error: missing '}'"),
        ("Dockerfile.bad-substitution", (), "syntax error: bad substitution"),
        ("Dockerfile.bad-modifier", (), "unsupported modifier (:x) in substitution"),
        ("Dockerfile.required", (), "Y: is not allowed to be unset"),
        ("Dockerfile.required", ("--build-arg", "Y="), "Y: is not allowed to be empty"),
        ("Dockerfile.required-msg", (), "Y: Y must be set"),
    ],
)
def test_substitution_errors(build_case, dockerfile, args, message):
    build = build_case(
        "substitution-errors-and-modifiers",
        "-f", dockerfile, *args,
        "-o", "type=local,dest=out-error",
        check=False,
    )  # fmt: skip
    stderr = _failed(build)
    assert message in stderr
    assert f"{dockerfile}:" in stderr
    assert not (build.folder / "out-error").exists()


def test_substitution_modifiers(build_case):
    build = build_case(
        "substitution-errors-and-modifiers",
        "-f",
        "Dockerfile",
        "-o",
        "type=local,dest=out",
    )
    assert build.text("r15.txt") == "P=[dflt] Q=[] R=[dflt] S=[] T=[alt]\n"


# dockerignore-reinclude-nested -------------------------------------------


def test_dockerignore_reinclude_nested(build_case):
    build = build_case(
        "dockerignore-reinclude-nested",
        "-f", "Dockerfile",
        "-o", "type=local,dest=../out",
        cwd="ctx",
    )  # fmt: skip
    assert build.text("r16.txt") == (
        ".\n./pkg\n./pkg/deep\n./pkg/deep/inner.py\n./pkg/mod.py\n"
        "./requirements.txt\n./top.py\n"
    )


# onbuild-once-per-child --------------------------------------------------


@pytest.fixture(scope="module")
def onbuild(build_case) -> Build:
    return build_case("onbuild-once-per-child", "-o", "type=local,dest=out")


def test_onbuild_runs_in_each_child(onbuild):
    assert onbuild.text("r34-child2.log") == "trigger\n"


def test_onbuild_not_inherited_further(onbuild):
    assert onbuild.text("r34-grandchild-count.txt").strip() == "1"


def test_onbuild_base_image(build_case, onbuild):
    build = build_case(
        "onbuild-once-per-child", "--target", "base", "-o", "type=oci,dest=base.tar"
    )
    image = build.image("base.tar")
    assert image.config["config"]["OnBuild"] == ["RUN echo trigger >> /r34-trigger.log"]
    assert "r34-trigger.log" not in image.filesystem()


def test_onbuild_consumed_by_child(build_case, onbuild):
    build = build_case(
        "onbuild-once-per-child", "--target", "child2", "-o", "type=oci,dest=child2.tar"
    )
    image = build.image("child2.tar")
    assert not image.config["config"].get("OnBuild")
    assert image.filesystem()["r34-trigger.log"].content == b"trigger\n"


# copy-symlink-handling ---------------------------------------------------


@pytest.fixture(scope="module")
def symlinks(build_case) -> Build:
    folder = build_case.folder("copy-symlink-handling")
    assert (folder / "links" / "file.txt").is_symlink()
    assert (folder / "top-link.txt").is_symlink()
    return build_case("copy-symlink-handling", "-o", "type=local,dest=out")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("r19-readlink.txt", "../real/file1.txt\n"),
        ("r19-dangling.txt", "dangling\n"),
        ("r19-top-kind.txt", "regular\n"),
        ("r19-top.txt", "target-content\n"),
        ("r19-through-alias.txt", "staged\n"),
    ],
)
def test_copy_symlinks(symlinks, name, content):
    assert symlinks.text(name) == content


def test_copy_symlink_kept_in_folder(symlinks):
    link = symlinks.out / "r19-links" / "file.txt"
    assert link.is_symlink()
