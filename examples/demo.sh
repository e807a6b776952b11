#!/usr/bin/env bash
# Install what minikit needs on Debian 12 and run the demo build, offline.
#   bash examples/demo.sh [OUTPUT_DIR]     (as root, or with sudo for apt-get)
# System packages come from apt-get; minikit goes into .venv in the checkout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(docker-registry busybox-static skopeo umoci uidmap slirp4netns git
  openssh-client libseccomp2 iproute2 ca-certificates python3 python3-venv)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cd "$repo"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet -e '.[test]'
exec .venv/bin/python examples/demo.py "${1:-demo-output}"
