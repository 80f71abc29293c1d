#!/usr/bin/env bash
# bench/cli.sh: how long `paragon api GET /api/v1/version` takes as a whole
# process (start, config, keyring, request, output) with a valid cached token,
# against `curl` sending the same headers to the same local `paragon server`:
# once with the secrets in the real OS keyring (Secret Service), once with
# `--keystore file`. bench/cmdtime times each process from start to exit,
# alternating the two commands, and prints both medians and their ratio; the
# targets are at most 1.0x curl with the keyring and 0.8x with the file.
#
#   bench/cli.sh              # 50 runs of each
#   RUNS=200 bench/cli.sh
#   BASELINE=main~3 bench/cli.sh   # also paragon of that commit against this one
#
# paragon is built as the release builds it (.goreleaser.yaml: CGO_ENABLED=0,
# -trimpath, -ldflags "-s -w"): a static binary, which starts about 1 ms
# sooner on Linux than the dynamically linked one a plain `go build` makes
# where cgo is on. With BASELINE=<commit>, that commit's paragon is built the
# same way (from `git archive`) and timed against this tree's, alternating,
# with each store, so that two versions are compared under the same load.
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

build_paragon() { # DIR OUT: paragon as the release builds it
  (cd "$1" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$2" ./cmd/paragon)
}
echo "== building paragon (release flags) and bench/cmdtime"
build_paragon . "$tmp/paragon"
go build -o "$tmp/cmdtime" ./bench/cmdtime
P="$tmp/paragon"
if [ -n "${BASELINE:-}" ]; then
  echo "== building paragon of $BASELINE ($(git rev-parse --short "$BASELINE"))"
  mkdir "$tmp/base"
  git archive "$BASELINE" | tar -x -C "$tmp/base"
  build_paragon "$tmp/base" "$tmp/paragon-base"
fi

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

echo "== trusting this device (key set to automatic trust) and logging in alice: profile default in the OS keyring, profile file in a file"
curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -d '{"auto_trust":true}' "$SERVER/admin/api/keys/default" >/dev/null
echo "$KEY" | "$P" device register --server "$SERVER" --api-key-stdin --keystore keyring >/dev/null
echo wonderland | "$P" login --user alice --password-stdin
echo "$KEY" | "$P" device register --profile file --server "$SERVER" --api-key-stdin --insecure-storage >/dev/null
echo wonderland | "$P" login --profile file --user alice --password-stdin
grep -q 'keystore: keyring' "$XDG_CONFIG_HOME/paragon/config.yml"
grep -q 'keystore: file' "$XDG_CONFIG_HOME/paragon/config.yml"
TOKEN=$("$P" token)

status=0
for store in keyring file; do
  profile=default target=1.0
  [ "$store" = file ] && profile=file target=0.8
  echo
  echo "== $store: $RUNS alternating runs each, on $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$tmp/cmdtime" -runs "$RUNS" -a "curl (same headers)" -b "paragon api GET /api/v1/version ($store)" -max-ratio "$target" -- \
    curl -sf -H "X-Api-Key: $KEY" -H "Authorization: Bearer $TOKEN" -H "Accept: application/json" "$SERVER/api/v1/version" -- \
    "$P" api --profile "$profile" GET /api/v1/version || status=1
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -n "${BASELINE:-}" ]; then
    echo "== $store: paragon of $BASELINE against this tree's, $RUNS alternating runs each, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$tmp/cmdtime" -runs "$RUNS" -a "paragon api ($BASELINE)" -b "paragon api (this tree)" -- \
      "$tmp/paragon-base" api --profile "$profile" GET /api/v1/version -- \
      "$P" api --profile "$profile" GET /api/v1/version
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  fi
done
exit $status
