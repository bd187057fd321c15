#!/usr/bin/env bash
# Server benchmarks with lanchat-bench, on loopback only.
#
#   cargo build --release -p lanchat -p lanchat-bench && bench/server.sh [RUNS]
#   (TARGETS="lanchat" or TARGETS="ngircd inspircd" runs only those;
#    TARGETS="lanchat-irc" runs lanchat's IRC door with the IRC generator;
#    TARGETS="lanchat-web" runs its web door with WebSocket clients;
#    PIN=1 runs each server on CPU 0 and the generator on the others,
#    so that they never share a core (scheduling then moves nothing);
#    TARGETS="floor" runs bench/floor/floor.c, the least a server can do
#    here (one epoll loop, IRC just enough for the generator), to tell
#    what the kernel and the generator cost from what a server adds;
#    WORKLOADS="fanout light" runs only those workloads;
#    LANCHAT_BIN=/path/to/an/older/lanchat measures another build of the
#    server with the same generator, for A/B runs; STAMPS=1 has the lanchat
#    clients ask for event ids and times, as the lanchat client does;
#    TLS=1 measures every target over TLS: lanchat as it runs by default,
#    its IRC door with --irc-tls, and the anchors on TLS ports with a
#    self-signed certificate made here, in /tmp/lanchat-bench-tls)
#
# Starts a fresh `lanchat serve` on 127.0.0.1 for each run (limits raised
# and the rate limit off, as a benchmark needs), runs each workload RUNS
# times (default 3) and prints the medians; then the same workloads against
# the anchors, ngIRCd and InspIRCd, if installed (bench/irc/*.conf,
# loopback only). Every run is bounded by --max-secs and every server is
# stopped by its PID.
set -euo pipefail
runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release
lanchat_bin=${LANCHAT_BIN:-$bin/lanchat}
# Builds before history storage have no --db (for A/B runs against them).
has_db=0; "$lanchat_bin" serve --help 2>/dev/null | grep -q -- '--db' && has_db=1
# Builds with TLS need --allow-plaintext for the plain lanchat protocol.
lanchat_extra=(); "$lanchat_bin" serve --help 2>/dev/null | grep -q -- '--allow-plaintext' && lanchat_extra=(--allow-plaintext)
# TLS=1: every target over TLS. lanchat keeps its identity in tls_dir; the
# anchors get a self-signed P-256 certificate and configurations with a
# TLS port added (ngIRCd 16697, InspIRCd 16698).
tls=(); irc_door=(--irc 16669); ngircd_conf=$root/bench/irc/ngircd.conf
inspircd_conf=$root/bench/irc/inspircd.conf; ngircd_port=16667; inspircd_port=16668
if [ "${TLS:-0}" = 1 ]; then
  tls_dir=/tmp/lanchat-bench-tls; mkdir -p "$tls_dir"
  [ -f "$tls_dir/cert.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 30 -subj /CN=bench -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.pem" 2>/dev/null
  tls=(--tls); lanchat_extra=(--identity "$tls_dir/lanchat-identity.pem"); irc_door=(--irc-tls 16669)
  ngircd_conf=$tls_dir/ngircd.conf; ngircd_port=16697
  { cat "$root/bench/irc/ngircd.conf"
    printf '\tCertFile = %s\n\tKeyFile = %s\n\tPorts = 16697\n' "$tls_dir/cert.pem" "$tls_dir/key.pem"
  } > "$ngircd_conf"
  inspircd_conf=$tls_dir/inspircd.conf; inspircd_port=16698
  { cat "$root/bench/irc/inspircd.conf"
    echo '<module name="ssl_gnutls">'
    echo "<sslprofile name=\"bench\" provider=\"gnutls\" certfile=\"$tls_dir/cert.pem\" keyfile=\"$tls_dir/key.pem\" dhfile=\"\" requestclientcert=\"no\">"
    echo '<bind address="127.0.0.1" port="16698" type="clients" sslprofile="bench">'
  } > "$inspircd_conf"
fi
[ -x "$lanchat_bin" ] && [ -x "$bin/lanchat-bench" ] || {
  echo "build first: cargo build --release -p lanchat -p lanchat-bench" >&2; exit 2; }
ulimit -n 20000 2>/dev/null || true
srv=(); gen=()
if [ "${PIN:-0}" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || { echo "PIN=1 needs two cores or more" >&2; exit 2; }
  srv=(taskset -c 0); gen=(taskset -c "1-$(( $(nproc) - 1 ))")
fi
port=18181
server_pid=
stop() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop EXIT

# one BENCH-ARGS...: one fresh server ($target), one bench run; prints its JSON.
target=lanchat
one() {
  # History is on, as by default, in a fresh file for each run.
  db=/tmp/lanchat-bench-$$.sqlite; rm -f "$db" "$db-wal" "$db-shm"
  dbarg=(); [ "$has_db" = 1 ] && dbarg=(--db "$db")
  case $target in
    lanchat)
      "${srv[@]}" "$lanchat_bin" serve --bind 127.0.0.1 --port $port --room bench --rate-limit 0 "${dbarg[@]}" "${lanchat_extra[@]}" \
        --max-clients 20000 --max-per-ip 20000 --max-connects-per-minute 0 --ping-interval 600 --ping-timeout 1200 2>/dev/null &
      server_pid=$!; sleep 0.3
      "${gen[@]}" "$bin/lanchat-bench" --server 127.0.0.1:$port --server-pid "$server_pid" \
        ${STAMPS:+--stamps} "${tls[@]}" "$@" | tail -1 ;;
    lanchat-irc)
      # The same server, reached through its IRC door by the same IRC
      # clients as the anchors: the comparison with them is exact.
      "${srv[@]}" "$lanchat_bin" serve --bind 127.0.0.1 --port $port --room bench --rate-limit 0 "${irc_door[@]}" "${dbarg[@]}" "${lanchat_extra[@]}" \
        --max-clients 20000 --max-per-ip 20000 --max-connects-per-minute 0 --ping-interval 600 --ping-timeout 1200 2>/dev/null &
      server_pid=$!; sleep 0.3
      "${gen[@]}" "$bin/lanchat-bench" --proto irc --channel '#bench' --server 127.0.0.1:16669 --server-pid "$server_pid" \
        "${tls[@]}" "$@" | tail -1 ;;
    lanchat-web)
      # The same server, reached through its web door: WebSocket clients
      # speaking lanchat's protocol, as the page does.
      "${srv[@]}" "$lanchat_bin" serve --bind 127.0.0.1 --port $port --room bench --rate-limit 0 --web-port 18182 "${dbarg[@]}" "${lanchat_extra[@]}" \
        --max-clients 20000 --max-per-ip 20000 --max-connects-per-minute 0 --ping-interval 600 --ping-timeout 1200 2>/dev/null &
      server_pid=$!; sleep 0.3
      "${gen[@]}" "$bin/lanchat-bench" --proto ws --server 127.0.0.1:18182 --server-pid "$server_pid" \
        "$@" | tail -1 ;;
    ngircd)
      "${srv[@]}" ngircd -n -f "$ngircd_conf" >/dev/null 2>&1 &
      # With TLS it loads its certificate first: give it longer.
      server_pid=$!; sleep 0.5; [ ${#tls[@]} = 0 ] || sleep 1
      # ngIRCd listens with a backlog of 10, so clients join a few at a time.
      "${gen[@]}" "$bin/lanchat-bench" --proto irc --server 127.0.0.1:$ngircd_port --server-pid "$server_pid" \
        --connect-batch 8 "${tls[@]}" "$@" | tail -1 ;;
    floor)
      "${srv[@]}" "$floor_bin" 16670 &
      server_pid=$!; sleep 0.3
      "${gen[@]}" "$bin/lanchat-bench" --proto irc --server 127.0.0.1:16670 --server-pid "$server_pid" \
        "$@" | tail -1 ;;
    inspircd)
      # --runasroot: CI and this machine run the benchmarks as root.
      "${srv[@]}" inspircd --nofork --runasroot --config="$inspircd_conf" >/dev/null 2>&1 &
      server_pid=$!; sleep 1.5
      "${gen[@]}" "$bin/lanchat-bench" --proto irc --server 127.0.0.1:$inspircd_port --server-pid "$server_pid" \
        "${tls[@]}" "$@" | tail -1 ;;
  esac
  stop
  rm -f "$db" "$db-wal" "$db-shm"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(eval('d'+sys.argv[1]))" "$1"; }

workload() {
  local name=$1; shift
  case " ${WORKLOADS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
  local out=()
  for _ in $(seq "$runs"); do out+=("$(one "$@")"); done
  printf '%s\n' "${out[@]}" > "/tmp/lanchat-bench-$target-$name.jsonl"
  local lost thr p50 p99 cpu idle
  lost=$(for j in "${out[@]}"; do echo "$j" | field "['lost']"; done | sort -n | tail -1)
  thr=$(for j in "${out[@]}"; do echo "$j" | field "['deliveries_per_s']"; done | median)
  p50=$(for j in "${out[@]}"; do echo "$j" | field "['latency_us']['p50']"; done | median)
  p99=$(for j in "${out[@]}"; do echo "$j" | field "['latency_us']['p99']"; done | median)
  cpu=$(for j in "${out[@]}"; do echo "$j" | field "['server']['cpu_us_per_delivery']"; done | median)
  idle=$(for j in "${out[@]}"; do echo "$j" | field "['server']['idle_kb_per_client']"; done | median)
  printf '%-12s deliveries/s %10.0f  p50 %6s us  p99 %6s us  cpu/delivery %s us  idle %s kB/client  lost(max) %s\n' \
    "$name" "$thr" "$p50" "$p99" "$cpu" "$idle" "$lost"
}

echo "machine: $(nproc) cores; runs per workload: $runs (medians)${srv:+; servers on CPU 0, generator on the others}"
for target in ${TARGETS:-lanchat lanchat-irc lanchat-web ngircd inspircd floor}; do
  if [ "$target" = floor ]; then
    # Built here, with the C compiler CI has anyway; plaintext only.
    floor_bin=/tmp/lanchat-bench-floor
    if [ ${#tls[@]} != 0 ] || ! cc -O2 -o "$floor_bin" "$root/bench/floor/floor.c" 2>/dev/null; then
      echo "floor: needs cc, and runs without TLS only"; continue
    fi
  elif [ "${target#lanchat}" = "$target" ] && ! command -v $target >/dev/null; then
    echo "$target is not installed (apt-get install $target): no anchor"; continue
  fi
  echo "== $target"
  workload fanout   -c 100  -s 10 -m 10000 -w 100 --max-secs 60
  workload bigroom  -c 1000 -s 5  -m 200   -w 100 --max-secs 60
  workload light    -c 100  -s 1  -m 1000  -r 100 -w 0 --max-secs 60
  workload idle     -c 1000 -s 0  -m 0     --max-secs 60
  if [ $target = lanchat ]; then
    workload scale -c 10000 -s 10 -m 20 -r 20 -w 0 --connect-batch 500 --max-secs 300
  fi
done
