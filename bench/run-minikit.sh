#!/bin/bash
# Time `minikit build` on one case, cold and warm, with the protocol of run-buildkit.sh.
#   run-minikit.sh CASE
# cold = `minikit prune --all` on a private --root (build cache and pulled bases removed);
# warm = the same build again right after.
# The build is:
#   $MINIKIT build --root ROOT --progress=plain -f DOCKERFILE -o type=tar,dest=TAR \
#     [case flags] [--jobs N] [--secret ...] $MINIKIT_FLAGS CONTEXT
# Env:
#   MINIKIT         command to run (default: the venv that setup-minikit.sh installs)
#   MINIKIT_ROOT    state folder passed as --root (default /var/tmp/bench-minikit/root, or
#                   ~USER/.local/share/bench-minikit for MINIKIT_USER)
#   MINIKIT_USER    run as this non-root user (rootless), e.g. bench; the output tar goes to
#                   $BENCH_OUT/$MINIKIT_USER/
#   MINIKIT_JOBS    pass --jobs N (tool name gets -jN)
#   MINIKIT_SECRET  pass --secret id=bench-unused,src=FILE, a secret that no step reads, to
#                   time the secret leak guard (tool name gets -secret)
#   MINIKIT_FLAGS   extra flags for every build (default: --network=none, like the others)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 CASE" >&2; exit 2; }
export MINIKIT=${MINIKIT:-${BENCH_MINIKIT:-/var/tmp/bench-minikit}/venv/bin/minikit}
export MINIKIT_FLAGS=${MINIKIT_FLAGS---network=none}
export MINIKIT_USER=${MINIKIT_USER:-}
MINIKIT_JOBS=${MINIKIT_JOBS:-}
MINIKIT_SECRET=${MINIKIT_SECRET:-}
TOOL=minikit${MINIKIT_USER:+-rootless}${MINIKIT_JOBS:+-j$MINIKIT_JOBS}${MINIKIT_SECRET:+-secret}
[ -z "$MINIKIT_JOBS" ] || MINIKIT_FLAGS="$MINIKIT_FLAGS --jobs $MINIKIT_JOBS"
[ -z "$MINIKIT_SECRET" ] || MINIKIT_FLAGS="$MINIKIT_FLAGS --secret id=bench-unused,src=$MINIKIT_SECRET"
export MK_PREFIX=""
if [ -n "$MINIKIT_USER" ]; then
  MUID=$(id -u "$MINIKIT_USER") || exit 1
  MHOME=$(getent passwd "$MINIKIT_USER" | cut -d: -f6)
  mkdir -p "/run/user/$MUID"; chown "$MINIKIT_USER" "/run/user/$MUID"; chmod 700 "/run/user/$MUID"
  MK_PREFIX="runuser -u $MINIKIT_USER -- env HOME=$MHOME XDG_RUNTIME_DIR=/run/user/$MUID"
  export OUT=$OUT/$MINIKIT_USER; mkdir -p "$OUT"; chown "$MINIKIT_USER" "$OUT"
  export BUILD_USER=$MINIKIT_USER   # b6-ssh: the ssh-agent runs as that user too
  export MINIKIT_ROOT=${MINIKIT_ROOT:-$MHOME/.local/share/bench-minikit}
else
  export MINIKIT_ROOT=${MINIKIT_ROOT:-/var/tmp/bench-minikit/root}
fi
export MINIKIT_FLAGS
[ -x "${MINIKIT%% *}" ] || command -v "${MINIKIT%% *}" >/dev/null 2>&1 \
  || { echo "minikit not found (MINIKIT=$MINIKIT): run setup-minikit.sh" >&2; exit 1; }

tool_reset() { $MK_PREFIX $MINIKIT prune --root "$MINIKIT_ROOT" --all >/dev/null 2>&1 || true; }

tool_build() {
  local tar=$1; shift
  # shellcheck disable=SC2086
  $MK_PREFIX $MINIKIT build --root "$MINIKIT_ROOT" --progress=plain -f "$DOCKERFILE" \
    -o "type=tar,dest=$tar" "$@" $MINIKIT_FLAGS "$CONTEXT"
}

bench_main "$1"
