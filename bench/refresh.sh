#!/usr/bin/env bash
# bench/refresh.sh: refresh-token rotations per second of `paragon server`
# with its state in memory and with --data (every rotation committed to the
# bbolt file and fsynced before its answer), under the same load: 8 clients,
# each with its own login, rotating their refresh tokens back to back. Prints
# requests/s and p99 for both and the ratio. Target: with --data at least 50%
# of the in-memory rate.
#
#   bench/refresh.sh                            # 8 clients, 3 rounds of 5 s each
#   CONCURRENCY=16 DURATION=10s ROUNDS=1 bench/refresh.sh
#   PARAGON_BIN=/path/to/other/paragon bench/refresh.sh   # measure another build
#
# The two servers take turns (memory, --data, memory, --data...) so that
# noise from other processes falls on both alike. The state file is in a
# temporary directory (set TMPDIR to measure another disk; on tmpfs an fsync
# costs nothing). Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${CONCURRENCY:-8}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
KEY=paragon-dev-key
ADMIN_TOKEN=bench-admin-token

. bench/lib.sh # $tmp, $pids, build_load, wait_url

build_load load

# start NAME ARGS...: start a server (in this shell, so that the exit trap
# stops it) and let its key log in without a device token (the login is not
# what is measured); its URL is then in $tmp/NAME.url.
start() {
  local name=$1; shift
  "$PARAGON_BIN" server --addr 127.0.0.1:0 --admin-token "$ADMIN_TOKEN" --password-cost 4 "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pids+=($!)
  wait_url "$tmp/$name.out" >"$tmp/$name.url"
  curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"allow_untrusted":true}' "$(cat "$tmp/$name.url")/admin/api/keys/default" >/dev/null
}
echo "== starting paragon server in memory and with --data $tmp/state.db ($(df -T "$tmp" | awk 'NR == 2 { print $2 }'))"
start memory
start data --data "$tmp/state.db"
MEMORY=$(cat "$tmp/memory.url")
DATA=$(cat "$tmp/data.url")

echo "== load: $CONCURRENCY clients rotating refresh tokens, 1 s warm-up + $DURATION per server, $ROUNDS round(s) alternating, on $(nproc) CPUs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-7s %-22s %12s %10s\n' "round" "server" "refreshes/s" "p99 (ms)" >"$tmp/table"
mem_sum=0; data_sum=0
for round in $(seq "$ROUNDS"); do
  for target in memory data; do
    url=$MEMORY; [ "$target" = data ] && url=$DATA
    "$tmp/load" -label "$target" -c "$CONCURRENCY" -d "$DURATION" -url "$url" -refresh "$KEY:alice:wonderland" | tee "$tmp/$target.result"
    if [ "$(field "$tmp/$target.result" errors)" != "0" ]; then
      echo "$target answered $(field "$tmp/$target.result" errors) refreshes with an error" >&2; exit 1
    fi
    label="in memory"; [ "$target" = data ] && label="--data (fsync)"
    printf '%-7s %-22s %12s %10s\n' "$round" "$label" "$(field "$tmp/$target.result" rps)" "$(field "$tmp/$target.result" p99_ms)" >>"$tmp/table"
  done
  mem_sum=$(awk -v a="$mem_sum" -v b="$(field "$tmp/memory.result" rps)" 'BEGIN { print a + b }')
  data_sum=$(awk -v a="$data_sum" -v b="$(field "$tmp/data.result" rps)" 'BEGIN { print a + b }')
done
echo
cat "$tmp/table"
ratio=$(awk -v a="$data_sum" -v b="$mem_sum" 'BEGIN { printf "%.0f", 100 * a / b }')
echo "ratio: with --data the server reaches ${ratio}% of its in-memory refreshes/s over all rounds (target: at least 50%)"
