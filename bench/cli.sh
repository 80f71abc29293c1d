#!/usr/bin/env bash
# bench/cli.sh: how long `paragon api GET /api/v1/version` takes as a whole
# process (start, config, keyring, request, output) with a valid cached token
# in the real OS keyring, against `curl` sending the same headers to the same
# local `paragon server`. Prints both medians and their ratio; the target is
# at most 3x curl.
#
#   bench/cli.sh              # 50 runs of each
#   RUNS=200 bench/cli.sh
#
# Needs gnome-keyring and dbus (as .ci/run installs them). Without a session
# bus it re-runs itself under dbus-run-session with an unlocked gnome-keyring,
# as .ci/run does for the tests. Everything runs on 127.0.0.1 in a temporary
# home directory and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PARAGON_BENCH_IN_SESSION:-}" ]; then
  for tool in dbus-run-session gnome-keyring-daemon curl; do
    command -v "$tool" >/dev/null || { echo "bench/cli.sh needs $tool (apt-get install dbus gnome-keyring curl)" >&2; exit 1; }
  done
  export PARAGON_BENCH_IN_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi

RUNS=${RUNS:-50}
KEY=paragon-dev-key
ADMIN_TOKEN=bench-admin-token

. bench/lib.sh # $tmp, $pids, wait_url

echo "== building paragon"
go build -o "$tmp/paragon" ./cmd/paragon
P="$tmp/paragon"

# A private home: the real keyring of this D-Bus session, a fresh config.
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" NO_COLOR=1
mkdir -p "$HOME"
echo "== unlocking a gnome-keyring for this D-Bus session"
eval "$(echo -n paragon-bench | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

echo "== starting paragon server"
"$P" server --addr 127.0.0.1:0 --admin-token "$ADMIN_TOKEN" >"$tmp/server.out" 2>"$tmp/server.log" &
pids+=($!)
SERVER=$(wait_url "$tmp/server.out")

echo "== trusting this device (key set to automatic trust) and logging in alice, secrets in the OS keyring"
curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"auto_trust":true}' "$SERVER/admin/api/keys/default" >/dev/null
echo "$KEY" | "$P" device register --server "$SERVER" --api-key-stdin --keystore keyring >/dev/null
echo wonderland | "$P" login --user alice --password-stdin
grep -q 'keystore: keyring' "$XDG_CONFIG_HOME/paragon/config.yml"
TOKEN=$("$P" token)

# now_ns: a monotonic-enough wall clock in nanoseconds.
now_ns() { date +%s%N; }

# time_runs LABEL CMD...: run CMD $RUNS times (after 3 warm-ups), write one
# duration in microseconds per line to $tmp/times.LABEL.
time_runs() {
  local label=$1; shift
  for _ in 1 2 3; do "$@" >/dev/null; done
  : >"$tmp/times.$label"
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(now_ns)
    "$@" >/dev/null
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 )) >>"$tmp/times.$label"
  done
}
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

echo "== $RUNS runs each, on $(nproc) CPUs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
time_runs curl curl -sf -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN" -H "Accept: application/json" "$SERVER/api/v1/version"
time_runs paragon "$P" api GET /api/v1/version

c=$(median "$tmp/times.curl")
p=$(median "$tmp/times.paragon")
echo
printf '%-46s %10s\n' "" "median"
printf '%-46s %8.1f ms\n' "curl (same headers)" "$(awk -v v="$c" 'BEGIN { print v / 1000 }')"
printf '%-46s %8.1f ms\n' "paragon api GET /api/v1/version (keyring)" "$(awk -v v="$p" 'BEGIN { print v / 1000 }')"
ratio=$(awk -v a="$p" -v b="$c" 'BEGIN { printf "%.2f", a / b }')
echo "ratio: paragon takes ${ratio}x curl's time (target: at most 3x)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 3) }' || { echo "target missed" >&2; exit 1; }
