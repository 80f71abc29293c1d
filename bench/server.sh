#!/usr/bin/env bash
# bench/server.sh: the same load against `paragon server` (an authorized
# GET /api/v1/version: API key + user token) and against a bare net/http
# handler returning the same body, then requests/s and p99 for both and the
# ratio. Target: the authorized call reaches at least 50% of the bare rate.
#
#   bench/server.sh                          # 32 connections, 5 s each
#   CONCURRENCY=64 DURATION=10s bench/server.sh
#
# Everything runs on 127.0.0.1 and stops by itself (about 15 s plus builds).
set -euo pipefail
cd "$(dirname "$0")/.."

CONCURRENCY=${CONCURRENCY:-32}
DURATION=${DURATION:-5s}
KEY=paragon-dev-key
ADMIN_TOKEN=bench-admin-token

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building paragon, bench/bare and bench/load"
go build -o "$tmp/paragon" ./cmd/paragon
go build -o "$tmp/bare" ./bench/bare
go build -o "$tmp/load" ./bench/load

# wait_url FILE: print the URL of the "listening on URL" line once FILE has it.
wait_url() {
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on \(http[^ ]*\)$/\1/p' "$1")
    if [ -n "$url" ]; then echo "$url"; return 0; fi
    sleep 0.1
  done
  echo "no 'listening on' line in $1" >&2
  return 1
}

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

echo "== load: $CONCURRENCY keep-alive connections, 1 s warm-up + $DURATION each, on $(nproc) CPUs"
"$tmp/load" -label bare -c "$CONCURRENCY" -d "$DURATION" -url "$BARE/api/v1/version" | tee "$tmp/bare.result"
"$tmp/load" -label paragon -c "$CONCURRENCY" -d "$DURATION" -url "$PARAGON/api/v1/version" \
  -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN" | tee "$tmp/paragon.result"

field() { sed -n "s/^result .*$2=\([^ ]*\).*/\1/p" "$1"; }
bare_rps=$(field "$tmp/bare.result" rps)
para_rps=$(field "$tmp/paragon.result" rps)
bare_p99=$(field "$tmp/bare.result" p99_ms)
para_p99=$(field "$tmp/paragon.result" p99_ms)
para_err=$(field "$tmp/paragon.result" errors)
echo
printf '%-22s %12s %10s\n' "" "requests/s" "p99 (ms)"
printf '%-22s %12s %10s\n' "bare net/http" "$bare_rps" "$bare_p99"
printf '%-22s %12s %10s\n' "paragon (authorized)" "$para_rps" "$para_p99"
ratio=$(awk -v a="$para_rps" -v b="$bare_rps" 'BEGIN { printf "%.0f", 100 * a / b }')
echo "ratio: paragon reaches ${ratio}% of the bare handler's requests/s (target: at least 50%)"
if [ "$para_err" != "0" ]; then echo "paragon answered $para_err requests with an error" >&2; exit 1; fi
