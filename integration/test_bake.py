"""``minikit bake`` builds every target of a bake file, with inheritance and variables."""

from __future__ import annotations

import shutil
from pathlib import Path

from fixtures.oci_tools import read_oci_archive

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"

BAKE = """
variable "TAG" { default = "1" }

group "default" { targets = ["hello", "shout"] }

target "base" {
  context = "hello"
  args = { GREETING = "hi" }
}

target "hello" {
  inherits = ["base"]
  tags = ["demo:${TAG}"]
  output = ["type=oci,dest=out/hello.tar"]
}

target "shout" {
  inherits = ["base"]
  args = { GREETING = upper("hey") }
  output = [{ type = "local", dest = "out/shout" }]
}
"""


def test_bake_builds_all_targets(run_minikit, base_image, tmp_path):
    shutil.copytree(HELLO, tmp_path / "hello")
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    run_minikit(["bake", "--progress=plain"], cwd=tmp_path, env={"TAG": "7"})
    image = read_oci_archive(tmp_path / "out" / "hello.tar")
    assert image.file("srv/hello/built-by-run.txt").content == b"hi, builder!\n"
    assert (tmp_path / "out/shout/srv/hello/built-by-run.txt").read_text() == "HEY, builder!\n"


def test_bake_print_resolves_variables(run_minikit, tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    result = run_minikit(["bake", "--print", "hello"], cwd=tmp_path, env={"TAG": "7"})
    assert '"demo:7"' in result.stdout
    assert '"GREETING": "hi"' in result.stdout


def test_bake_unknown_target_fails(run_minikit, tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(BAKE)
    result = run_minikit(["bake", "nope"], cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "failed to find target nope" in result.stderr
