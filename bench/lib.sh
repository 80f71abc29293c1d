# bench/lib.sh: what the benchmark scripts share. Source it after `cd` to the
# repository root; it sets $tmp (removed at exit), the $pids array (killed at
# exit) and defines build_load, wait_url and field.

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

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

# field FILE NAME: the value of NAME= in the "result ..." line bench/load
# printed to FILE.
field() { sed -n "s/^result .*$2=\([^ ]*\).*/\1/p" "$1"; }

# build_load TOOL...: build paragon into $tmp/paragon, unless $PARAGON_BIN
# names a build to measure, and each bench/TOOL into $tmp/TOOL; then
# $PARAGON_BIN is the paragon to run.
build_load() {
  echo "== building$( [ -z "${PARAGON_BIN:-}" ] && echo " paragon,")$(printf ' bench/%s' "$@")"
  if [ -z "${PARAGON_BIN:-}" ]; then
    go build -o "$tmp/paragon" ./cmd/paragon
    PARAGON_BIN=$tmp/paragon
  fi
  for tool in "$@"; do go build -o "$tmp/$tool" "./bench/$tool"; done
}
