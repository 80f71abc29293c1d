#!/usr/bin/env bash
# bench/server.sh: the same load against `paragon server` (an authorized
# GET /api/v1/version: API key + user token) and against a bare net/http
# handler returning the same body, then requests/s and p99 for both and the
# ratio, and each server's CPU time per request (from /proc, so it holds up
# better than the rates when other processes share the CPUs). Target: the
# authorized call reaches at least 85% of the bare rate on a quiet machine.
#
#   bench/server.sh                          # 32 connections, 3 rounds of 5 s each
#   CONCURRENCY=64 DURATION=10s ROUNDS=1 bench/server.sh
#   PARAGON_BIN=/path/to/other/paragon bench/server.sh   # measure another build
#
# The two targets take turns (bare, paragon, bare, paragon...) so that noise
# from other processes falls on both alike. Everything runs on 127.0.0.1 and
# stops by itself (about 40 s plus the builds).
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
KEY=paragon-dev-key
ADMIN_TOKEN=bench-admin-token

. bench/lib.sh # $tmp, $pids, build_load, wait_url

build_load bare load

echo "== starting paragon server (request logs to a file, as a real deployment would)"
"$PARAGON_BIN" server --addr 127.0.0.1:0 --admin-token "$ADMIN_TOKEN" --log-format json \
  >"$tmp/server.out" 2>"$tmp/server.log" &
pids+=($!); para_pid=$!
PARAGON=$(wait_url "$tmp/server.out")

# A user token without the device dance: let the key log in from untrusted
# endpoints (the login is not what is measured), then log in as alice.
curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"allow_untrusted":true}' "$PARAGON/admin/api/keys/default" >/dev/null
TOKEN=$(curl -sf -H "X-Api-Key: $KEY" -d authtype=0 -d userid=alice -d password=wonderland \
  "$PARAGON/api/v1/login" | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || { echo "login failed" >&2; exit 1; }
curl -sf -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN" "$PARAGON/api/v1/version" >"$tmp/version.json"
echo "GET /api/v1/version answers: $(cat "$tmp/version.json")"

echo "== starting the bare net/http handler with the same body"
"$tmp/bare" -body "$tmp/version.json" >"$tmp/bare.out" 2>&1 &
pids+=($!); bare_pid=$!
BARE=$(wait_url "$tmp/bare.out")

echo "== load: $CONCURRENCY keep-alive connections, 1 s warm-up + $DURATION per target, $ROUNDS round(s) alternating, on $(nproc) CPUs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
# cpu_ticks PID: the process's user + system CPU time in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
# run TARGET PID ARGS...: one load run; appends requests/s and the server's
# CPU microseconds per request (warm-up included) to $tmp/TARGET.runs.
run() {
  local target=$1 pid=$2; shift 2
  local t0 t1
  t0=$(cpu_ticks "$pid")
  "$tmp/load" -label "$target" -c "$CONCURRENCY" -d "$DURATION" "$@" | tee "$tmp/$target.result"
  t1=$(cpu_ticks "$pid")
  if [ "$(field "$tmp/$target.result" errors)" != "0" ]; then
    echo "$target answered $(field "$tmp/$target.result" errors) requests with an error" >&2; exit 1
  fi
  echo "$(field "$tmp/$target.result" rps) $(field "$tmp/$target.result" p99_ms) $(awk -v t=$((t1 - t0)) -v hz="$tck" -v n="$(field "$tmp/$target.result" total)" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')" >>"$tmp/$target.runs"
}
for round in $(seq "$ROUNDS"); do
  run bare "$bare_pid" -url "$BARE/api/v1/version"
  run paragon "$para_pid" -url "$PARAGON/api/v1/version" -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN"
done
echo
printf '%-7s %-22s %12s %10s %16s\n' "round" "target" "requests/s" "p99 (ms)" "server CPU/req"
for round in $(seq "$ROUNDS"); do
  for target in bare paragon; do
    label="bare net/http"; [ "$target" = paragon ] && label="paragon (authorized)"
    sed -n "${round}p" "$tmp/$target.runs" | awk -v r="$round" -v l="$label" '{ printf "%-7s %-22s %12s %10s %13s µs\n", r, l, $1, $2, $3 }'
  done
done
sum() { awk -v c="$2" '{ s += $c } END { print s }' "$tmp/$1.runs"; }
ratio=$(awk -v a="$(sum paragon 1)" -v b="$(sum bare 1)" 'BEGIN { printf "%.0f", 100 * a / b }')
cpu=$(awk -v a="$(sum paragon 3)" -v b="$(sum bare 3)" 'BEGIN { printf "%.2f", a / b }')
echo "ratio: paragon reaches ${ratio}% of the bare handler's requests/s over all rounds (target: at least 85% on a quiet machine)"
echo "server CPU per request: paragon uses ${cpu}x the bare handler's"
