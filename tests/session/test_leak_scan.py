"""The leak guard's search of a layer folder for secret values."""

from __future__ import annotations

import base64
import os

from minikit.worker import leakguard
from minikit.worker.leakguard import find_leaks

VALUE = b"leak-scan-value-5521"


def test_finds_plain_value(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "conf").write_bytes(b"token=" + VALUE + b"\n")
    assert find_leaks(tmp_path, [VALUE]) == ["/etc/conf"]


def test_finds_base64_value(tmp_path):
    (tmp_path / "encoded").write_bytes(base64.b64encode(VALUE))
    assert find_leaks(tmp_path, [VALUE]) == ["/encoded"]


def test_finds_value_without_newline(tmp_path):
    (tmp_path / "f").write_bytes(b"x" + VALUE.strip() + b"y")
    assert find_leaks(tmp_path, [VALUE + b"\n"]) == ["/f"]


def test_finds_value_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(leakguard, "_CHUNK", 8)
    (tmp_path / "big").write_bytes(b"a" * 13 + VALUE + b"b" * 13)
    assert find_leaks(tmp_path, [VALUE]) == ["/big"]


def test_finds_symlink_target(tmp_path):
    os.symlink("/run/" + VALUE.decode(), tmp_path / "link")
    assert find_leaks(tmp_path, [VALUE]) == ["/link"]


def test_clean_layer(tmp_path):
    (tmp_path / "f").write_bytes(b"nothing to see")
    assert find_leaks(tmp_path, [VALUE]) == []


def test_short_values_ignored(tmp_path):
    (tmp_path / "f").write_bytes(b"v1 " + base64.b64encode(b"v1"))
    assert find_leaks(tmp_path, [b"v1"]) == []
