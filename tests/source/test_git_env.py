"""How Git runs: the credentials file, the error messages, the file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from minikit.errors import GitError
from minikit.session import SecretStore
from minikit.source.git import (
    GitSource,
    _config_quote,
    _git_error,
    _normalize_modes,
    redact_url_text,
)
from minikit.source.gitref import parse_git_ref

REMOTE = "https://git.example.test:8443/org/repo.git"


class _CommandError:
    """The two fields of GitPython's GitCommandError that minikit reads."""

    def __init__(self, stderr: str, status: int = 128) -> None:
        self.stderr = stderr
        self.status = status


def _environment(tmp_path: Path, secrets: dict[str, bytes]):
    source = GitSource(SecretStore(secrets), None, tmp_path)
    return source._environment(parse_git_ref(REMOTE))


def _included(env: dict[str, str]) -> Path:
    count = int(env["GIT_CONFIG_COUNT"])
    for index in range(count):
        if env[f"GIT_CONFIG_KEY_{index}"] == "include.path":
            return Path(env[f"GIT_CONFIG_VALUE_{index}"])
    raise AssertionError(f"no include.path in {env}")


def test_header_in_private_file(tmp_path):
    with _environment(tmp_path, {"GIT_AUTH_TOKEN": b"tok-123"}) as env:
        path = _included(env)
        text = path.read_text()
        mode = stat.S_IMODE(path.stat().st_mode)
    assert (
        text == f'[http "{REMOTE}"]\n\textraheader = "Authorization: Bearer tok-123"\n'
    )
    assert mode == 0o600


def test_header_not_in_environment(tmp_path):
    with _environment(tmp_path, {"GIT_AUTH_TOKEN": b"tok-123"}) as env:
        assert not any("tok-123" in value for value in env.values())


def test_header_file_removed(tmp_path):
    with _environment(tmp_path, {"GIT_AUTH_TOKEN": b"tok-123"}) as env:
        path = _included(env)
    assert not path.exists()
    assert not path.parent.exists()


def test_no_secret_no_include(tmp_path):
    with _environment(tmp_path, {}) as env:
        keys = [env[f"GIT_CONFIG_KEY_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))]
    assert "include.path" not in keys


def test_prompts_disabled(tmp_path):
    with _environment(tmp_path, {}) as env:
        assert env["GIT_TERMINAL_PROMPT"] == "0"
        assert env["GIT_CONFIG_NOSYSTEM"] == "1"


def test_line_break_rejected(tmp_path):
    environment = _environment(tmp_path, {"GIT_AUTH_TOKEN": b"tok\n[core]"})
    with pytest.raises(GitError) as caught, environment:
        pass
    assert "line break" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_config_quote_escapes():
    assert _config_quote('a"b\\c') == '"a\\"b\\\\c"'


def test_refused_error_hints_token():
    error = _git_error(
        _CommandError("stderr: 'fatal: could not read Username for 'https://x''"),
        parse_git_ref("https://user:pw@git.example.test/org/repo.git"),
    )
    assert error.message == (
        "failed to fetch https://git.example.test/org/repo.git: "
        "authentication was refused"
    )
    assert "--secret id=GIT_AUTH_TOKEN" in (error.hint or "")


def test_error_shows_fatal_line():
    stderr = "Cloning...\nfatal: unable to access 'https://u:p@h/x.git/': timeout\nmore"
    error = _git_error(_CommandError(stderr), parse_git_ref(REMOTE))
    assert (
        error.message
        == f"failed to fetch {REMOTE}: unable to access 'https://h/x.git/': timeout"
    )


def test_redact_url_text():
    assert redact_url_text("see https://a:b@h/p and ssh://git@h2/q") == (
        "see https://h/p and ssh://h2/q"
    )


def test_modes_normalized(tmp_path):
    (tmp_path / "sub").mkdir(mode=0o700)
    (tmp_path / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "sub" / "run.sh").chmod(0o700)
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "data.txt").chmod(0o600)
    _normalize_modes(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "sub").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "run.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "data.txt").st_mode) == 0o644
