"""Bake files: HCL and JSON parsing, variables, groups, inheritance, overrides."""

import json

import pytest

from minikit.bake.definition import print_json, resolve
from minikit.errors import ConfigError, UsageError

HCL = """
// comments of both kinds
# are ignored
variable "TAG" {
  default = "1"
}
variable "PUSH" { default = false }

group "default" {
  targets = ["app", "tools"]
}

target "base" {
  context = "."
  args = { A = "1", B = "base" }
}

target "app" {
  inherits = ["base"]
  tags = ["app:${TAG}", "app:latest"]
  args = { B = "app" }
  output = [{ type = "oci", dest = "app.tar" }]
}

target "tools" {
  dockerfile = "tools.Dockerfile"
  target = "tools"
  labels = { "org.example.name" = join("-", ["a", "b"]) }
}
"""


@pytest.fixture
def bake_file(tmp_path):
    path = tmp_path / "docker-bake.hcl"
    path.write_text(HCL)
    return path


def test_default_group(bake_file):
    names = [target.name for target in resolve([bake_file], [], [])]
    assert names == ["app", "tools"]


def test_interpolation_and_env(bake_file, monkeypatch):
    monkeypatch.setenv("TAG", "9")
    app = resolve([bake_file], ["app"], [])[0]
    assert app.get("tags") == ["app:9", "app:latest"]


def test_inherited_args_merge(bake_file):
    app = resolve([bake_file], ["app"], [])[0]
    assert app.get("args") == {"A": "1", "B": "app"}
    assert app.get("context") == "."


def test_object_entries_kept(bake_file):
    app = resolve([bake_file], ["app"], [])[0]
    assert app.get("output") == [{"type": "oci", "dest": "app.tar"}]


def test_function_call(bake_file):
    tools = resolve([bake_file], ["tools"], [])[0]
    assert tools.get("labels") == {"org.example.name": "a-b"}


def test_set_override(bake_file):
    app = resolve([bake_file], ["app"], ["app.args.B=cli", "*.target=final"])[0]
    assert app.get("args")["B"] == "cli"
    assert app.get("target") == "final"


def test_unknown_target(bake_file):
    with pytest.raises(UsageError, match="failed to find target nope"):
        resolve([bake_file], ["nope"], [])


def test_syntax_error_has_line(tmp_path):
    path = tmp_path / "docker-bake.hcl"
    path.write_text('target "a" {\n  tags = [\n}\n')
    with pytest.raises(ConfigError) as caught:
        resolve([path], [], [])
    assert caught.value.location is not None
    assert caught.value.location.line == 3


def test_json_form(tmp_path):
    path = tmp_path / "docker-bake.json"
    path.write_text(json.dumps({"target": {"web": {"context": "web", "tags": ["web:1"]}}}))
    web = resolve([path], ["web"], [])[0]
    assert web.get("tags") == ["web:1"]


def test_print_json(bake_file):
    printed = json.loads(print_json(resolve([bake_file], [], []), []))
    assert printed["group"]["default"]["targets"] == ["app", "tools"]
    assert printed["target"]["tools"]["dockerfile"] == "tools.Dockerfile"
