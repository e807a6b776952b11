#!/bin/bash
# One full benchmark run: set up the peers, then time every case with BuildKit, buildah and
# minikit side by side, and write the results page.
#   run.sh [CASE...]       (default: every case in cases/; run as root)
# Steps:
#   1. start-peers.sh, setup-registry.sh, make-base-images.sh (only if the images are missing)
#   2. user `bench` for the rootless runs (useradd -m, which adds subuid/subgid ranges)
#   3. setup-minikit.sh: a snapshot of minikit (MINIKIT_SOURCE=head by default) in a venv
#   4. parse-peers.py: parse and convert times for b1-parse and b0-trivial
#   5. per case: buildkit, buildah, minikit, buildah-rootless, minikit-rootless, and
#        b3-multistage: buildah --jobs 4, minikit --jobs 4, minikit --jobs 1
#        b4-bigcopy:    minikit with an unused --secret (the leak guard's cost)
#      taking turns: repetition 1 of every tool, then repetition 2, and so on
#   6. leakguard-scan.py: the leak guard's search of the b4-bigcopy files, in one process
#   7. report.py: the page with medians, ratios and memory
# Output: /tmp/bench-results/RUN_ID/{results.tsv,logs/,env.txt,parse.json,leakguard.json,
#   RESULTS.md};
# a run over every case also copies RESULTS.md to bench/RESULTS.md.
# Env: REPS (default: 5 for b0/b1, 3 otherwise), MAX_REP_S, SKIP_BUILDKIT=1, SKIP_ROOTLESS=1,
#      MINIKIT_SOURCE (head|worktree), BENCH_USER (default bench).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "run.sh must run as root (it starts dockerd and uses runuser)" >&2; exit 1; }
ALL_CASES=$(cd "$HERE/cases" && ls -d b*/ | tr -d / | paste -sd' ')
CASES=${*:-$ALL_CASES}
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=/tmp/bench-results/$RUN_ID
BENCH_USER=${BENCH_USER:-bench}
export BENCH_RESULTS=$RUN_DIR/results.tsv BENCH_LOGS=$RUN_DIR/logs
export BENCH_MINIKIT=${BENCH_MINIKIT:-/var/tmp/bench-minikit}
mkdir -p "$RUN_DIR/logs"
ln -sfn "$RUN_DIR" /tmp/bench-results/latest
ENV_FILE=$RUN_DIR/env.txt
started=$(date +%s)

note() { printf '%s=%s\n' "$1" "$2" >> "$ENV_FILE"; }
step() { printf '\n===== %s (%s s)\n' "$*" "$(( $(date +%s) - started ))"; }

step "peers"
if ! "$HERE/start-peers.sh" > "$RUN_DIR/logs/start-peers.log" 2>&1; then
  echo "start-peers.sh failed; the tail of its log:"; tail -5 "$RUN_DIR/logs/start-peers.log"
fi
cat "$RUN_DIR/logs/start-peers.log"
"$HERE/setup-registry.sh" || exit 1
curl -fsS -o /dev/null http://127.0.0.1:5000/v2/debian-ssh/manifests/bookworm \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' || "$HERE/make-base-images.sh" || exit 1

have_buildkit=0
if [ "${SKIP_BUILDKIT:-0}" = 1 ]; then
  note buildkit_error "skipped (SKIP_BUILDKIT=1)"
elif docker_error=$(/usr/bin/docker info 2>&1 >/dev/null); then
  have_buildkit=1
else
  note buildkit_error "$(echo "$docker_error" | tr '\n' ' ')"
  echo "BuildKit column skipped: /usr/bin/docker info failed: $docker_error"
fi

have_rootless=0
if [ "${SKIP_ROOTLESS:-0}" != 1 ]; then
  id "$BENCH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$BENCH_USER"
  if id "$BENCH_USER" >/dev/null 2>&1 && grep -q "^$BENCH_USER:" /etc/subuid; then
    have_rootless=1
  else
    note rootless_error "user $BENCH_USER or its /etc/subuid range is missing"
  fi
fi

step "minikit snapshot"
"$HERE/setup-minikit.sh" || exit 1
cp "$BENCH_MINIKIT/source.txt" "$RUN_DIR/minikit-source.txt"

step "environment"
{
  note date "$(date -u +%FT%TZ)"
  note kernel "$(uname -sr)"
  note os "$(. /etc/os-release && echo "$PRETTY_NAME")"
  note cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
  note memory "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  note load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
  note minikit "$("$BENCH_MINIKIT/venv/bin/minikit" --version) ($(cat "$BENCH_MINIKIT/source.txt"))"
  note python "$("$BENCH_MINIKIT/venv/bin/python" --version)"
  [ $have_buildkit = 1 ] && note docker "$(/usr/bin/docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}')"
  note containerd "$(containerd --version 2>/dev/null | awk '{print $3}')"
  note runc "$(runc --version 2>/dev/null | head -1 | awk '{print $3}')"
  note buildah "$(buildah --version 2>/dev/null)"
  note registry "$(docker-registry --version 2>/dev/null | awk '{print $3}')"
  note packages "$(dpkg-query -W -f='${Package} ${Version}, ' docker.io buildah containerd runc \
    fuse-overlayfs slirp4netns uidmap busybox-static 2>/dev/null | sed 's/, $//')"
} 2>/dev/null
cat "$ENV_FILE"

step "parse and convert times (b1-parse, b0-trivial)"
"$BENCH_MINIKIT/venv/bin/python" "$HERE/parse-peers.py" --reps 9 --json "$RUN_DIR/parse.json" \
  | tee "$RUN_DIR/parse.md"

reps() { echo "${REPS:-$(case $1 in b0-*|b1-*) echo 5 ;; *) echo 3 ;; esac)}"; }
leak_secret=/tmp/bench-secrets/leakguard
mkdir -p /tmp/bench-secrets; chmod 755 /tmp/bench-secrets
printf 'leak-guard-probe-%s\n' "$RUN_ID" > "$leak_secret"; chmod 644 "$leak_secret"

tools_for() {  # tools_for CASE -> the tools that run it, in the order they take turns
  local tools="buildah minikit"
  [ $have_buildkit = 1 ] && tools="buildkit $tools"
  [ $have_rootless = 1 ] && tools="$tools buildah-rootless minikit-rootless"
  case $1 in
    b3-*) tools="$tools buildah-j4 minikit-j4 minikit-j1" ;;
    b4-*) tools="$tools minikit-secret" ;;
  esac
  echo "$tools"
}

run_tool() {  # run_tool TOOL CASE REP -> one cold + warm repetition of TOOL on CASE
  local one=(env REPS=1 REP_FIRST="$3")
  case $1 in
    buildkit) "${one[@]}" "$HERE/run-buildkit.sh" "$2" ;;
    buildah) "${one[@]}" "$HERE/run-buildah.sh" "$2" ;;
    buildah-rootless) "${one[@]}" BUILDAH_USER="$BENCH_USER" "$HERE/run-buildah.sh" "$2" ;;
    buildah-j4) "${one[@]}" BUILDAH_JOBS=4 "$HERE/run-buildah.sh" "$2" ;;
    minikit) "${one[@]}" "$HERE/run-minikit.sh" "$2" ;;
    minikit-rootless) "${one[@]}" MINIKIT_USER="$BENCH_USER" "$HERE/run-minikit.sh" "$2" ;;
    minikit-j4) "${one[@]}" MINIKIT_JOBS=4 "$HERE/run-minikit.sh" "$2" ;;
    minikit-j1) "${one[@]}" MINIKIT_JOBS=1 "$HERE/run-minikit.sh" "$2" ;;
    minikit-secret) "${one[@]}" MINIKIT_SECRET="$leak_secret" "$HERE/run-minikit.sh" "$2" ;;
  esac
}

first_cold_wall() {  # first_cold_wall CASE TOOL -> wall time of its cold rep 1 (or 0)
  awk -F'\t' -v c="$1" -v t="$2" '$2 == c && $3 == t && $4 == "cold" && $5 == 1 {w = $6}
    END {print w + 0}' "$BENCH_RESULTS"
}

# Repetitions take turns across the tools (rep 1 of every tool, then rep 2, ...), so that
# a change in the machine's load during a case affects every tool alike. A tool whose
# first cold build took more than MAX_REP_S seconds (default 30) runs only once.
for c in $CASES; do
  step "case $c"
  slow=" "
  for rep in $(seq "$(reps "$c")"); do
    for tool in $(tools_for "$c"); do
      case $slow in *" $tool "*) continue ;; esac
      run_tool "$tool" "$c" "$rep" | grep -v ' median '
      if [ "$rep" = 1 ] && awk -v w="$(first_cold_wall "$c" "$tool")" \
          -v m="${MAX_REP_S:-30}" 'BEGIN {exit !(w > m)}'; then
        slow="$slow$tool "
        echo "  ($tool: cold build > ${MAX_REP_S:-30} s, single repetition)"
      fi
    done
  done
done

case " $CASES " in
  *" b4-bigcopy "*)
    step "leak guard search of the b4-bigcopy context"
    "$BENCH_MINIKIT/venv/bin/python" "$HERE/leakguard-scan.py" --json "$RUN_DIR/leakguard.json" \
      "${BENCH_CONTEXTS:-/tmp/bench-contexts}/b4-bigcopy/data"
    ;;
esac

step "report"
note load_at_end "$(cut -d' ' -f1-3 /proc/loadavg)"
note duration_s "$(( $(date +%s) - started ))"
python3 "$HERE/report.py" --run-dir "$RUN_DIR" > "$RUN_DIR/RESULTS.md" || exit 1
if [ "$CASES" = "$ALL_CASES" ]; then
  cp "$RUN_DIR/RESULTS.md" "$HERE/RESULTS.md"
  echo "wrote $HERE/RESULTS.md"
fi
echo "results: $RUN_DIR (took $(( $(date +%s) - started )) s)"
