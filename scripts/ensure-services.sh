#!/usr/bin/env bash
# Starts (installing if missing) what the end-to-end tests need: Redis and PostgreSQL on
# their standard loopback ports, nftables (for the partition tests), and Debian's Janus (the SFU), which each SFU test starts
# itself on free ports from deploy/janus/. Tests never depend on the data in them: each
# test uses its own key prefix or database, and tests that kill Redis start their own.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
SUDO=""; if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
apt_install() {
  if have apt-get; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "cannot install $* (no apt-get)" >&2; exit 1
  fi
}

if ! have redis-server; then apt_install redis-server redis-tools; fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
fi

if ! have pg_ctlcluster && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  version=$(ls /etc/postgresql 2>/dev/null | head -n1)
  if [ -n "$version" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
fi
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && break
  sleep 0.2
done

# nftables: the partition tests drop packets on a node's links inside a network namespace.
if ! have nft; then apt_install nftables; fi

# Janus: the SFU tests render deploy/janus/ and start their own instances on free ports
# (one test kills an instance mid-call). The package's own service stays off (its
# default configuration is not ours).
if ! have janus; then
  apt_install janus
  # On a systemd machine the package starts its demo configuration (open APIs): stop it.
  if have systemctl; then $SUDO systemctl disable --now janus >/dev/null 2>&1 || true; fi
fi
# Start it once with the repository's configuration, so a package or configuration that
# does not run here fails now with Janus's own words rather than in every SFU test.
janus_dir=$(mktemp -d)
for _ in $(seq 1 20); do
  janus_port=$((20000 + RANDOM % 30000))
  (exec 3<>"/dev/tcp/127.0.0.1/$janus_port") 2>/dev/null || break
done
JANUS_API_SECRET=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n') JANUS_WS_PORT=$janus_port \
  sh "$(dirname "$0")/../deploy/janus/render.sh" "$janus_dir/config"
janus -F "$janus_dir/config" -C "$janus_dir/config/janus.jcfg" >"$janus_dir/log" 2>&1 &
janus_pid=$!
janus_up=""
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$janus_port") 2>/dev/null; then janus_up=1; break; fi
  kill -0 "$janus_pid" 2>/dev/null || break
  sleep 0.1
done
kill "$janus_pid" 2>/dev/null || true
wait "$janus_pid" 2>/dev/null || true
if [ -z "$janus_up" ]; then
  echo "janus did not start with deploy/janus/:" >&2
  cat "$janus_dir/log" >&2
  rm -rf "$janus_dir"
  exit 1
fi
rm -rf "$janus_dir"
