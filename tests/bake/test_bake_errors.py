"""Bake files that are not text or have the wrong shape, and ``--set`` that matches nothing."""

import json

import pytest

from minikit.bake.definition import resolve
from minikit.errors import ConfigError, UsageError

HCL = """
group "default" { targets = ["app", "app-debug"] }
group "all" { targets = ["app", "tools"] }
target "app" { tags = ["app:1"] }
target "app-debug" { tags = ["app:debug"] }
target "tools" { tags = ["tools:1"] }
"""


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _config_error(path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        resolve([path], [], [])
    return caught.value


@pytest.mark.parametrize("name", ["docker-bake.hcl", "docker-bake.json"])
def test_binary_file_rejected(tmp_path, name):
    path = _write(tmp_path, name, b"\x7fELF\x02\x01\x01\x00\xd0\xff")
    error = _config_error(path)
    assert str(path) in error.message
    assert "invalid UTF-8 byte 0xd0" in error.message


@pytest.mark.parametrize(
    ("document", "text"),
    [
        ([1, 2], "the top level must be a JSON object"),
        ({"target": [1, 2]}, '"target" must be a JSON object, not an array'),
        ({"group": "x"}, '"group" must be a JSON object, not a string'),
        ({"target": {"app": [1]}}, 'target "app" must be a JSON object'),
    ],
)
def test_json_shape_rejected(tmp_path, document, text):
    path = _write(tmp_path, "docker-bake.json", document)
    error = _config_error(path)
    assert text in error.message
    assert str(path) in error.message


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"args": [1]}, "args must be a map, not a list"),
        ({"tags": "app:1"}, "tags must be a list, not a string"),
        ({"context": ["."]}, "context must be a string, not a list"),
        ({"inherits": "base"}, "inherits must be a list, not a string"),
    ],
)
def test_attribute_type_rejected(tmp_path, body, text):
    path = _write(tmp_path, "docker-bake.json", {"target": {"app": body}})
    assert text in _config_error(path).message


def test_group_targets_must_be_list(tmp_path):
    document = {"group": {"default": {"targets": "app"}}, "target": {"app": {}}}
    path = _write(tmp_path, "docker-bake.json", document)
    assert "targets must be a list" in _config_error(path).message


def test_set_unknown_target_rejected(tmp_path):
    path = _write(tmp_path, "docker-bake.hcl", HCL)
    with pytest.raises(UsageError) as caught:
        resolve([path], [], ["nosuch.tags=x:1"])
    assert caught.value.message == "could not find any target matching 'nosuch'"


def test_set_target_not_built_accepted(tmp_path):
    path = _write(tmp_path, "docker-bake.hcl", HCL)
    targets = resolve([path], ["app"], ["tools.tags=x:1"])
    assert [target.get("tags") for target in targets] == [["app:1"]]


def test_set_glob_matches(tmp_path):
    path = _write(tmp_path, "docker-bake.hcl", HCL)
    targets = resolve([path], [], ["app-*.tags=x:2"])
    assert [target.get("tags") for target in targets] == [["app:1"], ["x:2"]]


def test_set_group_matches_members(tmp_path):
    path = _write(tmp_path, "docker-bake.hcl", HCL)
    targets = resolve([path], ["all"], ["all.tags=x:3"])
    assert [target.get("tags") for target in targets] == [["x:3"], ["x:3"]]
