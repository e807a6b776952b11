# Shared driver for run-buildkit.sh / run-buildah.sh (and later run-minikit.sh).
# A tool script defines:
#   TOOL                         name recorded in results
#   tool_reset                   make the next build cold (drop all build cache + pulled bases)
#   tool_build OUT_TAR ARGS...   build $DOCKERFILE/$CONTEXT to a tar at OUT_TAR; ARGS are
#                                extra BuildKit-style flags from the case (--secret/--ssh ...)
#   tool_roots                   (optional) pids whose process trees do the work (daemons)
# tool_build runs in a child bash (exported with export -f): it may only use exported
# variables (CASE CASE_DIR CONTEXT DOCKERFILE OUT REG DOCKER + whatever the tool exports).
# then calls: bench_main CASE
#
# A case dir cases/CASE/ holds Dockerfile, README and optionally case.sh, which may set
# CONTEXT / DOCKERFILE and define hooks:
#   case_prepare                 generate inputs (context, secrets, agents)
#   case_args PHASE              print extra build flags for a phase (cold|warm|<extra>)
#   case_verify PHASE OUT_TAR    print a short verdict about the output (non-zero = failure)
#   case_extra_phases            print extra phase names to run after each warm build
#   case_cleanup                 stop anything case_prepare started
#
# Env: REPS (default 3), MAX_REP_S (default 30: if the first cold build takes longer, 1 rep),
#      REP_FIRST (default 1: the number of the first repetition, so that run.sh can run one
#      repetition of each tool in turn and keep the numbering),
#      BENCH_OUT (/tmp/bench-out), BENCH_LOGS (/tmp/bench-results/logs),
#      BENCH_RESULTS (/tmp/bench-results/results.tsv), NOTE (free text stored with each row).
set -uo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CASES=$BENCH/cases
OUT=${BENCH_OUT:-/tmp/bench-out}
LOGS=${BENCH_LOGS:-/tmp/bench-results/logs}
RESULTS=${BENCH_RESULTS:-/tmp/bench-results/results.tsv}
REPS=${REPS:-3}
MAX_REP_S=${MAX_REP_S:-30}
REG=${BENCH_REGISTRY_ADDR:-127.0.0.1:5000}
NOTE=${NOTE:-}
export DOCKER=${DOCKER:-/usr/bin/docker}

tool_roots() { :; }

tar_cat() {  # tar_cat TAR NAME -> contents of the (unique) member ending in NAME
  tar -xOf "$1" --wildcards "*$2" 2>/dev/null
}

load_case() {
  CASE=$1
  CASE_DIR=$CASES/$CASE
  [ -f "$CASE_DIR/Dockerfile" ] || { echo "no such case: $CASE ($CASE_DIR/Dockerfile)" >&2; exit 2; }
  CONTEXT=$CASE_DIR
  DOCKERFILE=$CASE_DIR/Dockerfile
  case_prepare() { :; }
  case_args() { :; }
  case_verify() { echo ok; }
  case_extra_phases() { :; }
  case_cleanup() { :; }
  # shellcheck disable=SC1090
  [ -f "$CASE_DIR/case.sh" ] && . "$CASE_DIR/case.sh"
}

one_build() {  # one_build PHASE REP -> sets LAST_WALL; appends a results row
  local phase=$1 rep=$2 tar log js roots="" r wall rc pc pd ps pds verdict vrc
  tar=$OUT/$CASE.$TOOL.$phase.tar
  log=$LOGS/$CASE.$TOOL.$phase.$rep.log
  js=$LOGS/$CASE.$TOOL.$phase.$rep.json
  rm -f "$tar"
  # flush what earlier builds wrote, so that its writeback is not timed as part of this one
  sync
  for r in $(tool_roots); do roots="$roots --root $r"; done
  # shellcheck disable=SC2046
  python3 "$BENCH/measure.py" $roots --json "$js" -- \
    bash -c 'tool_build "$@"' tool_build "$tar" $(case_args "$phase") >"$log" 2>&1
  read -r wall rc pc pd ps pds < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["wall_s"], d["rc"], d["peak_cmd_mib"], d["peak_daemon_delta_mib"], d["peak_cmd_pss_mib"], d["peak_daemon_pss_delta_mib"])' "$js")
  if [ "$rc" = 0 ] && [ ! -s "$tar" ]; then
    verdict="VERIFY-FAIL: no output tar"
  elif [ "$rc" = 0 ]; then
    verdict=$(case_verify "$phase" "$tar" 2>&1); vrc=$?
    [ $vrc = 0 ] || verdict="VERIFY-FAIL: $verdict"
  else
    verdict="BUILD-FAIL rc=$rc: $(grep -iE 'error|failed|unknown|not supported' "$log" | tail -2 | tr '\n\t' '  ' | cut -c1-300)"
  fi
  verdict=$(echo "$verdict" | tr "\n\t" "  " | sed "s/ *$//")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$CASE" "$TOOL" "$phase" "$rep" \
    "$wall" "$rc" "$pc" "$pd" "$verdict" "$NOTE" "$ps" "$pds" >> "$RESULTS"
  printf '  %-8s %-16s rep %s  %7.2f s  rc=%s  RSS cmd=%s MiB daemon+=%s MiB  PSS cmd=%s MiB daemon+=%s MiB  %s\n' "$CASE" "$phase" "$rep" "$wall" "$rc" "$pc" "$pd" "$ps" "$pds" "$verdict"
  LAST_WALL=$wall
  LAST_RC=$rc
}

bench_main() {
  load_case "$1"
  mkdir -p "$OUT" "$LOGS" "$(dirname "$RESULTS")"
  [ -s "$RESULTS" ] || printf 'time\tcase\ttool\tphase\trep\twall_s\trc\tpeak_cmd_mib\tpeak_daemon_delta_mib\tverdict\tnote\tpeak_cmd_pss_mib\tpeak_daemon_pss_delta_mib\n' > "$RESULTS"
  "$BENCH/setup-registry.sh" >/dev/null || exit 1
  curl -fsS -o /dev/null "http://$REG/v2/busybox/manifests/latest" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    || { echo "base images missing: run make-base-images.sh" >&2; exit 1; }
  case_prepare || { echo "case_prepare failed" >&2; exit 1; }
  # tool_build runs in a child bash under measure.py: export it and what it may use
  export CASE CASE_DIR CONTEXT DOCKERFILE OUT REG
  export -f tool_build
  trap case_cleanup EXIT
  echo "== $CASE with $TOOL (reps=$REPS) =="
  local rep=${REP_FIRST:-1} n p
  n=$((rep + REPS - 1))
  while [ $rep -le $n ]; do
    tool_reset
    one_build cold $rep
    if [ $rep = 1 ] && [ $n -gt 1 ] && python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$LAST_WALL" "$MAX_REP_S"; then
      n=1; echo "  (cold build > ${MAX_REP_S}s: single repetition)"
    fi
    one_build warm $rep
    for p in $(case_extra_phases); do one_build "$p" $rep; done
    rep=$((rep + 1))
  done
  python3 "$BENCH/summarize.py" --case "$CASE" --tool "$TOOL" "$RESULTS"
}
