#!/usr/bin/env bash
# bench/server.sh: the same load against `paragon server` (an authorized
# GET /api/v1/version: API key + user token) and against a bare net/http
# handler returning the same body, then requests/s and p99 for both and the
# ratio. Target: the authorized call reaches at least 50% of the bare rate.
#
#   bench/server.sh                          # 32 connections, 3 rounds of 5 s each
#   CONCURRENCY=64 DURATION=10s ROUNDS=1 bench/server.sh
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

. bench/lib.sh # $tmp, $pids, wait_url

echo "== building paragon, bench/bare and bench/load"
go build -o "$tmp/paragon" ./cmd/paragon
go build -o "$tmp/bare" ./bench/bare
go build -o "$tmp/load" ./bench/load

echo "== starting paragon server (request logs to a file, as a real deployment would)"
"$tmp/paragon" server --addr 127.0.0.1:0 --admin-token "$ADMIN_TOKEN" --log-format json \
  >"$tmp/server.out" 2>"$tmp/server.log" &
pids+=($!)
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
pids+=($!)
BARE=$(wait_url "$tmp/bare.out")

echo "== load: $CONCURRENCY keep-alive connections, 1 s warm-up + $DURATION per target, $ROUNDS round(s) alternating, on $(nproc) CPUs"
printf '%-7s %-22s %12s %10s\n' "round" "target" "requests/s" "p99 (ms)" >"$tmp/table"
bare_sum=0; para_sum=0
for round in $(seq "$ROUNDS"); do
  "$tmp/load" -label bare -c "$CONCURRENCY" -d "$DURATION" -url "$BARE/api/v1/version" | tee "$tmp/bare.result"
  "$tmp/load" -label paragon -c "$CONCURRENCY" -d "$DURATION" -url "$PARAGON/api/v1/version" \
    -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN" | tee "$tmp/paragon.result"
  if [ "$(field "$tmp/paragon.result" errors)" != "0" ]; then
    echo "paragon answered $(field "$tmp/paragon.result" errors) requests with an error" >&2; exit 1
  fi
  printf '%-7s %-22s %12s %10s\n' "$round" "bare net/http" "$(field "$tmp/bare.result" rps)" "$(field "$tmp/bare.result" p99_ms)" >>"$tmp/table"
  printf '%-7s %-22s %12s %10s\n' "$round" "paragon (authorized)" "$(field "$tmp/paragon.result" rps)" "$(field "$tmp/paragon.result" p99_ms)" >>"$tmp/table"
  bare_sum=$(awk -v a="$bare_sum" -v b="$(field "$tmp/bare.result" rps)" 'BEGIN { print a + b }')
  para_sum=$(awk -v a="$para_sum" -v b="$(field "$tmp/paragon.result" rps)" 'BEGIN { print a + b }')
done
echo
cat "$tmp/table"
ratio=$(awk -v a="$para_sum" -v b="$bare_sum" 'BEGIN { printf "%.0f", 100 * a / b }')
echo "ratio: paragon reaches ${ratio}% of the bare handler's requests/s over all rounds (target: at least 50%)"
