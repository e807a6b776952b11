#!/bin/bash
# Install and start the peers that minikit is compared with: Docker 20.10's dockerd with
# its embedded BuildKit, buildah, and the tools the harness uses (docker-registry, umoci,
# skopeo, debootstrap, busybox-static, openssh). Idempotent; run as root.
# It starts containerd and dockerd only when their sockets do not answer, and records
# their pids in /tmp/bench-peers/*.pid so that `start-peers.sh stop` stops only those.
set -euo pipefail
STATE=/tmp/bench-peers
mkdir -p "$STATE"

if [ "${1:-}" = stop ]; then
  for name in dockerd containerd; do
    if [ -s "$STATE/$name.pid" ] && kill "$(cat "$STATE/$name.pid")" 2>/dev/null; then
      echo "stopped $name (pid $(cat "$STATE/$name.pid"))"
    fi
    rm -f "$STATE/$name.pid"
  done
  exit 0
fi

packages="docker.io buildah docker-registry skopeo umoci debootstrap busybox-static
  openssh-server openssh-client uidmap slirp4netns curl time python3-venv"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

if ! [ -S /run/containerd/containerd.sock ] || ! ctr version >/dev/null 2>&1; then
  setsid nohup containerd >"$STATE/containerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/containerd.pid"
  for _ in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
fi
if ! /usr/bin/docker info >/dev/null 2>&1; then
  setsid nohup dockerd --containerd=/run/containerd/containerd.sock \
    >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.2; done
fi
/usr/bin/docker info --format 'dockerd {{.ServerVersion}} is up' 
buildah --version
