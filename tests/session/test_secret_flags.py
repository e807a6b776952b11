"""``--secret`` parsing and reading, and the store that holds the values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minikit.errors import SecretError, UsageError
from minikit.session.secrets import (
    SecretSpec,
    SecretStore,
    parse_secret_flag,
    read_secret_values,
)


def test_src_means_file():
    assert parse_secret_flag("id=a,src=f.txt") == SecretSpec("a", "file", "f.txt")


def test_source_alias():
    assert parse_secret_flag("id=a,source=f.txt") == SecretSpec("a", "file", "f.txt")


def test_env_means_variable():
    assert parse_secret_flag("id=a,env=VAR") == SecretSpec("a", "env", "VAR")


def test_typed_env_with_src():
    assert parse_secret_flag("type=env,id=a,src=VAR") == SecretSpec("a", "env", "VAR")


def test_typed_env_defaults_to_id():
    assert parse_secret_flag("type=env,id=A_VAR") == SecretSpec("A_VAR", "env", "A_VAR")


def test_typed_file_defaults_to_id():
    assert parse_secret_flag("type=file,id=a") == SecretSpec("a", "file", "a")


def test_bare_id_takes_set_variable(monkeypatch):
    monkeypatch.setenv("MK_TEST_TOKEN", "x")
    spec = parse_secret_flag("id=MK_TEST_TOKEN")
    assert spec == SecretSpec("MK_TEST_TOKEN", "env", "MK_TEST_TOKEN")


def test_bare_id_falls_back_to_file(monkeypatch):
    monkeypatch.delenv("MK_TEST_TOKEN", raising=False)
    spec = parse_secret_flag("id=MK_TEST_TOKEN")
    assert spec == SecretSpec("MK_TEST_TOKEN", "file", "MK_TEST_TOKEN")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("src=f.txt", "id is required"),
        ("id=a,bogus=1", "unexpected key 'bogus'"),
        ("id=a,type=ssh", "unsupported type 'ssh'"),
        ("id=a,src", "must be key=value"),
    ],
)
def test_invalid_flags(text, message):
    with pytest.raises(UsageError) as caught:
        parse_secret_flag(text)
    assert message in caught.value.message


def test_missing_file_names_id_and_path(tmp_path):
    spec = SecretSpec("api", "file", "nope.txt")
    with pytest.raises(SecretError) as caught:
        read_secret_values([spec], tmp_path)
    assert "secret api" in caught.value.message
    assert str(tmp_path / "nope.txt") in caught.value.message


def test_missing_variable_names_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MK_UNSET_VAR", raising=False)
    with pytest.raises(SecretError) as caught:
        read_secret_values([SecretSpec("a", "env", "MK_UNSET_VAR")], tmp_path)
    assert "MK_UNSET_VAR is not set" in caught.value.message


def test_large_file_rejected(tmp_path):
    (tmp_path / "big").write_bytes(b"x" * (500 * 1024 + 1))
    with pytest.raises(SecretError) as caught:
        read_secret_values([SecretSpec("big", "file", "big")], tmp_path)
    assert "500 KiB" in caught.value.message


def test_file_read_relative_to_cwd(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"value-1")
    specs = read_secret_values([SecretSpec("a", "file", "f.txt")], tmp_path)
    assert SecretStore.load(specs, Path("/")).get("a") == b"value-1"


def test_read_removes_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("MK_SECRET_SOURCE", "value-2")
    specs = read_secret_values([SecretSpec("a", "env", "MK_SECRET_SOURCE")], tmp_path)
    assert specs[0].value == b"value-2"
    assert "MK_SECRET_SOURCE" not in os.environ


def test_read_keeps_path(tmp_path):
    path = os.environ["PATH"]
    read_secret_values([SecretSpec("a", "env", "PATH")], tmp_path)
    assert os.environ["PATH"] == path


# Runs in a fresh interpreter, whose initial environment holds the value.
_FORK_CHECK = """
import os, sys
from pathlib import Path
from minikit.session.secrets import SecretSpec, read_secret_values
read_secret_values([SecretSpec("a", "env", "MK_FORKED_SECRET")], Path("."))
pid = os.fork()
if pid == 0:
    data = Path(f"/proc/{os.getpid()}/environ").read_bytes()
    os._exit(3 if b"forked-value-77" in data else 0)
_, status = os.waitpid(pid, 0)
own = Path("/proc/self/environ").read_bytes()
sys.exit(os.waitstatus_to_exitcode(status) or (4 if b"forked-value-77" in own else 0))
"""


def test_value_erased_from_process_memory():
    env = {**os.environ, "MK_FORKED_SECRET": "forked-value-77"}
    result = subprocess.run([sys.executable, "-c", _FORK_CHECK], env=env, check=False)
    assert result.returncode == 0


def test_spec_repr_hides_value():
    spec = SecretSpec("a", "env", "V", value=b"hidden-value")
    assert "hidden-value" not in repr(spec)


def test_store_repr_hides_values():
    store = SecretStore({"a": b"hidden-value"})
    assert repr(store) == "SecretStore(ids=['a'])"
    assert str(store) == repr(store)


def test_store_values_skip_empty():
    assert SecretStore({"a": b"", "b": b"v"}).values() == [b"v"]


def test_device_secret_is_bounded(tmp_path):
    from minikit.errors import SecretError
    from minikit.session.secrets import SecretSpec, SecretStore

    with pytest.raises(SecretError, match="500 KiB limit"):
        SecretStore.load([SecretSpec("zero", "file", "/dev/zero")], tmp_path)
