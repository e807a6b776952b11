"""Run the README's demo build offline: a local registry stands in for Docker Hub.

Starts Debian's docker-registry on a free port of 127.0.0.1, pushes a
busybox image built from Debian's busybox-static (the same image the tests
use), writes a minikit config that mirrors docker.io to it, builds
examples/hello to an OCI tar, a docker archive and a folder, and unpacks the
OCI tar with umoci to show the result. Everything stops when it is done.

    python examples/demo.py [OUTPUT_DIR]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "integration"))

from fixtures.images import build_base_image  # noqa: E402
from fixtures.minikit_env import make_minikit_config  # noqa: E402
from fixtures.registry import start_registry  # noqa: E402


def main() -> int:
    """Run the demo and return the exit status of the last step."""
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output").resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minikit-demo-") as scratch:
        work = Path(scratch)
        registry = start_registry(work / "registry")
        try:
            print(f"local registry on {registry.host}; seeding busybox:1.36 from busybox-static", flush=True)
            build_base_image(work / "image", registry.host)
            config = make_minikit_config(work / "env", registry.host)
            env = dict(config.env)
            hello = REPO / "examples" / "hello"
            builds = [
                ["-t", "demo:1", "-o", f"type=oci,dest={output / 'demo.tar'}"],
                ["-t", "demo:1", "-o", f"type=docker,dest={output / 'demo-docker.tar'}"],
                ["-o", f"type=local,dest={output / 'rootfs'}"],
            ]
            for flags in builds:
                command = [sys.executable, "-m", "minikit", "build", "--progress=plain", *flags, str(hello)]
                print("\n$ minikit build " + " ".join(flags) + " examples/hello", flush=True)
                subprocess.run(command, env=env, check=True)
            return _show(output)
        finally:
            registry.stop()


def _show(output: Path) -> int:
    layout = output / "layout"
    bundle = output / "bundle"
    subprocess.run(["rm", "-rf", str(layout), str(bundle)], check=True)
    layout.mkdir()
    subprocess.run(["tar", "-xf", str(output / "demo.tar"), "-C", str(layout)], check=True)
    umoci = ["umoci", "unpack"] + (["--rootless"] if os.geteuid() != 0 else [])
    subprocess.run([*umoci, "--image", f"{layout}:1", str(bundle)], check=True, stdout=subprocess.DEVNULL)
    greeting = (bundle / "rootfs" / "srv" / "hello" / "built-by-run.txt").read_text().strip()
    print(f"\numoci unpacked {output / 'demo.tar'}: /srv/hello/built-by-run.txt says {greeting!r}")
    print(f"outputs in {output}: demo.tar (OCI), demo-docker.tar (docker load), rootfs/ (files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
