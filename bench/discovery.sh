#!/usr/bin/env bash
# Discovery benchmark on a simulated LAN of network namespaces (needs root).
#
#   cargo build --release -p lanchat && sudo bench/discovery.sh [RUNS]
#
# Builds 10.203.0.0/24 with a lanchat server on .1, a client on .254, two
# idle hosts, and 250 absent addresses; then a /22 with the same hosts.
# Measures, RUNS times each (default 5), and prints the medians:
#   - fast path: time to the first room over UDP (as lanchat reports it);
#   - full /24 scan: time to the first room, and wall time of the whole scan;
#   - full /22 scan: wall time;
#   - nmap -n -Pn -p 8081 --open over the same /24 (default timing), if
#     nmap is installed.
# Everything lives in namespaces named lcbench$$*, deleted on exit.
set -euo pipefail
runs=${1:-5}
bin=${LANCHAT_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/lanchat}
[ -x "$bin" ] || { echo "build first: cargo build --release -p lanchat" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
p=lcbench$$
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  for ns in $(ip netns list | awk '{print $1}' | grep "^$p" || true); do ip netns del "$ns"; done
}
trap cleanup EXIT

lan() { # prefix-length
  cleanup
  ip netns add ${p}b
  ip -n ${p}b link add br0 type bridge
  ip -n ${p}b link set br0 type bridge stp_state 0 mcast_snooping 0
  ip -n ${p}b link set br0 up
  local i=0
  for addr in 10.203.0.1 10.203.0.2 10.203.0.3 10.203.0.254; do
    ip netns add ${p}h$i
    ip netns exec ${p}h$i sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n ${p}b link add p$i type veth peer name eth0 netns ${p}h$i
    ip -n ${p}b link set p$i master br0 up
    ip -n ${p}h$i addr add $addr/$1 dev eth0
    ip -n ${p}h$i link set eth0 up
    ip -n ${p}h$i link set lo up
    i=$((i + 1))
  done
  ip netns exec ${p}h0 "$bin" serve --room bench 2>/dev/null &
  server_pid=$!
  sleep 0.5
}

client() { ip netns exec ${p}h3 env NO_COLOR=1 XDG_CONFIG_HOME=/tmp/$p "$bin" "$@"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ms from lanchat's own "... via X  N ms" line.
first_ms() { client discover "$@" | head -1 | sed -E 's/.*  ([0-9.]+) ms .*/\1/'; }

wall_ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

lan 24
echo "machine: $(nproc) cores, $(uname -r); runs: $runs"
echo "fast path, first room (ms):    $(for _ in $(seq "$runs"); do first_ms --via udp --timeout 1000; done | median)"
echo "/24 scan, first room (ms):     $(for _ in $(seq "$runs"); do first_ms --via scan; done | median)"
echo "/24 scan, whole scan (ms):     $(for _ in $(seq "$runs"); do wall_ms client discover --via scan; done | median)"
if command -v nmap >/dev/null; then
  echo "nmap /24, default timing (ms): $(for _ in $(seq "$runs"); do wall_ms ip netns exec ${p}h3 nmap -n -Pn -p 8081 --open 10.203.0.0/24; done | median)"
fi
kill "$server_pid" 2>/dev/null || true; server_pid=
lan 22
echo "/22 scan, whole scan (ms):     $(for _ in $(seq "$runs"); do wall_ms client discover --via scan; done | median)"
if command -v nmap >/dev/null; then
  echo "nmap /22, default timing (ms): $(for _ in $(seq "$runs"); do wall_ms ip netns exec ${p}h3 nmap -n -Pn -p 8081 --open 10.203.0.0/22; done | median)"
fi
