#!/usr/bin/env bash
# Client-side cost of a busy room, on loopback only.
#
#   cargo build --release -p lanchat -p lanchat-bench && bench/client.sh [RATE] [SECS]
#
# Starts `lanchat serve` on 127.0.0.1, joins two real clients as a user
# would, the --plain client (stdout to a file) and the TUI (inside a
# private tmux server, 120x40), then has lanchat-bench send RATE messages
# a second (default 2000) for SECS seconds (default 30). Every second it
# samples each client's CPU time and resident memory from /proc and prints
# them; at the end it checks that both clients got every message. The TUI's
# scrollback is capped at 10,000 entries, so its memory must level off once
# the cap is reached; the plain client keeps nothing. Everything started
# here is stopped by its PID (tmux by its private socket).
set -euo pipefail
rate=${1:-2000}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release
[ -x "$bin/lanchat" ] && [ -x "$bin/lanchat-bench" ] || {
  echo "build first: cargo build --release -p lanchat -p lanchat-bench" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 2; }
port=18182
work=$(mktemp -d)
sock=lanchat-bench-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/lanchat" serve --bind 127.0.0.1 --port $port --room bench --rate-limit 0 2>/dev/null &
pids+=($!)
sleep 0.3

# The plain client: stdin kept open (EOF would mean "quit"), stdout to a file.
"$bin/lanchat" --plain --server 127.0.0.1:$port --name plain \
  < <(sleep $((secs + 30))) > "$work/plain.out" 2>"$work/plain.err" &
plain=$!
pids+=($plain)

# The TUI, as a user would run it, in a terminal tmux provides.
XDG_STATE_HOME=$work tmux -L "$sock" new-session -d -x 120 -y 40 \
  "exec $bin/lanchat --server 127.0.0.1:$port --name tui"
tui=$(tmux -L "$sock" list-panes -F '#{pane_pid}')
sleep 1

total=$((rate * secs))
"$bin/lanchat-bench" --server 127.0.0.1:$port -c 2 -s 1 -m "$total" -r "$rate" -w 0 \
  --max-secs $((secs + 20)) > "$work/bench.out" &
bench=$!
pids+=($bench)

python3 - "$plain" "$tui" "$secs" "$rate" <<'EOF'
import os, sys, time
pids = {"plain": int(sys.argv[1]), "tui": int(sys.argv[2])}
secs, rate = int(sys.argv[3]), int(sys.argv[4])
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
start = {k: (cpu(p), rss_kb(p)) for k, p in pids.items()}
t0 = time.monotonic()
print(f"{rate} msg/s for {secs} s; per second: CPU % of one core, RSS in MB")
print("  s   plain cpu  plain rss    tui cpu    tui rss")
last = {k: start[k][0] for k in pids}
peak = {k: 0 for k in pids}
rows = []
for s in range(1, secs + 1):
    time.sleep(max(0.0, t0 + s - time.monotonic()))
    row = {}
    for k, p in pids.items():
        c = cpu(p)
        row[k] = (100 * (c - last[k]), rss_kb(p) / 1024)
        last[k] = c
        peak[k] = max(peak[k], row[k][1])
    rows.append(row)
    print(f"{s:3d}  {row['plain'][0]:9.1f}  {row['plain'][1]:9.1f}  {row['tui'][0]:9.1f}  {row['tui'][1]:9.1f}")
for k in pids:
    used = last[k] - start[k][0]
    print(f"{k}: mean CPU {100 * used / secs:.1f}% of one core, "
          f"RSS {start[k][1] / 1024:.1f} MB before, peak {peak[k]:.1f} MB, "
          f"last 10 s {min(r[k][1] for r in rows[-10:]):.1f}-{max(r[k][1] for r in rows[-10:]):.1f} MB")
EOF

wait $bench || true
sleep 1
got=$(grep -c '^<b0> ' "$work/plain.out" || true)
echo "plain client printed $got of $total messages"
tail -1 "$work/bench.out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("generator: %.0f deliveries/s to its own receiver, lost %d" % (d["deliveries_per_s"], d["lost"]))'
echo "the TUI at the end (status bar):"
tmux -L "$sock" capture-pane -p | tail -3
