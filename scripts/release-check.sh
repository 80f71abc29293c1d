#!/usr/bin/env bash
# Proves the release configuration: goreleaser (from the Go module proxy)
# checks .goreleaser.yaml, builds a snapshot of every target with archives and
# deb/rpm packages, and the linux/amd64 binary reports the stamped version;
# the man page it ships opens with man -l.
set -euo pipefail
cd "$(dirname "$0")/.."
GORELEASER_VERSION=v2.15.1
bin="$(go env GOPATH)/bin/goreleaser"
if ! "$bin" --version 2>/dev/null | grep "${GORELEASER_VERSION#v}" >/dev/null; then
  echo "installing goreleaser $GORELEASER_VERSION from the Go module proxy"
  go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
"$bin" check
"$bin" release --snapshot --clean --skip=publish

want=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
got=$(./dist/paragon_linux_amd64_v1/paragon version)
echo "stamped: $got"
case "$got" in
  "paragon version $want"*) ;;
  *) echo "expected the stamped version $want, got: $got"; exit 1 ;;
esac
for f in dist/paragon_*_linux_amd64.tar.gz; do
  tar -tzf "$f" | grep -x 'completions/paragon.bash' >/dev/null || { echo "$f lacks the bash completion"; exit 1; }
  tar -tzf "$f" | grep -x 'manpages/paragon.1.gz' >/dev/null || { echo "$f lacks the man page"; exit 1; }
done
ls dist/*.deb dist/*.rpm >/dev/null
tmp=$(mktemp -d)
tar -xzf dist/paragon_*_linux_amd64.tar.gz -C "$tmp" manpages/paragon.1.gz
MANWIDTH=80 man -l "$tmp/manpages/paragon.1.gz" | grep 'paragon - ' >/dev/null || { echo "man -l could not render paragon.1"; exit 1; }
rm -rf "$tmp"
echo "release check passed"
