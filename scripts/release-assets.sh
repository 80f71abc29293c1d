#!/usr/bin/env bash
# Generates what release archives, packages and the container image carry
# besides the binary: shell completions and man pages, from the command tree
# itself (never committed by hand), and the image's CA certificates. goreleaser runs this in its before hooks with the
# release version:
#
#   scripts/release-assets.sh [VERSION]
#
# The man pages name VERSION (default: dev) and are dated from
# SOURCE_DATE_EPOCH, by default the commit's time, so that two builds of one
# commit make the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-dev}"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
rm -rf completions manpages
mkdir -p completions manpages
# The same compile settings as goreleaser's builds (CGO_ENABLED=0, -trimpath),
# so its linux/amd64 build reuses these compiled packages and only links.
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X github.com/paragon-cli/paragon/cmd/internal/build.Version=$version" \
  -o completions/.paragon ./cmd/paragon
./completions/.paragon completion bash > completions/paragon.bash
./completions/.paragon completion zsh > completions/_paragon
./completions/.paragon completion fish > completions/paragon.fish
./completions/.paragon docs man manpages 2>/dev/null
gzip -9n manpages/*.1
rm completions/.paragon
# The CA certificates the container image carries (Containerfile): the build
# host's bundle, since the image is FROM scratch.
[ -s /etc/ssl/certs/ca-certificates.crt ] || { echo "no CA bundle at /etc/ssl/certs/ca-certificates.crt" >&2; exit 1; }
mkdir -p container/etc/ssl/certs
cp /etc/ssl/certs/ca-certificates.crt container/etc/ssl/certs/
