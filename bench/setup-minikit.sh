#!/bin/bash
# Install a snapshot of minikit, and the two PyPI Dockerfile parsers that parse-peers.py
# times, into one venv that every user can run (Debian's /usr/bin/python3, because the
# rootless runs go through user `bench`, who cannot read /root).
#   setup-minikit.sh
# Env:
#   MINIKIT_SOURCE  head (default) installs the committed tree, through `git archive
#                   HEAD`, so that edits in progress cannot break a run halfway.
#                   worktree installs the files as they are now, uncommitted edits included.
#   BENCH_MINIKIT   state folder (default /var/tmp/bench-minikit), with the venv in venv/
# Writes $BENCH_MINIKIT/source.txt: the commit, and how many files under minikit/ and
# grammar/ the work tree had modified.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${BENCH_MINIKIT:-/var/tmp/bench-minikit}
SOURCE=${MINIKIT_SOURCE:-head}
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
venv=$STATE/venv
src=$STATE/src

mkdir -p "$STATE"
rm -rf "$src" "$venv"
mkdir -p "$src"
case $SOURCE in
  head) git -C "$REPO" archive HEAD minikit grammar pyproject.toml README.md | tar -C "$src" -xf - ;;
  worktree) tar -C "$REPO" -cf - minikit grammar pyproject.toml README.md | tar -C "$src" -xf - ;;
  *) echo "MINIKIT_SOURCE must be head or worktree, not '$SOURCE'" >&2; exit 2 ;;
esac
find "$src" -name __pycache__ -prune -exec rm -rf {} +

commit=$(git -C "$REPO" rev-parse HEAD)
dirty=$(git -C "$REPO" status --porcelain --untracked-files=no -- minikit grammar | wc -l)
printf 'source=%s commit=%s modified_files_in_worktree=%s\n' "$SOURCE" "$commit" "$dirty" \
  > "$STATE/source.txt"

"$PYTHON" -m venv "$venv"
if ! "$venv/bin/pip" install --quiet "$src" dockerfile dockerfile-parse \
    >"$STATE/pip.log" 2>&1; then
  cat "$STATE/pip.log" >&2
  echo "pip install into $venv failed" >&2
  exit 1
fi
chmod -R a+rX "$STATE"
"$venv/bin/minikit" --version
cat "$STATE/source.txt"
