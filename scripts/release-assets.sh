#!/usr/bin/env bash
# Generates what release archives and packages carry besides the binary:
# shell completions and man pages, from the command tree itself (never
# committed by hand). goreleaser runs this in its before hooks.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf completions manpages
mkdir -p completions manpages
go build -o completions/.paragon ./cmd/paragon
./completions/.paragon completion bash > completions/paragon.bash
./completions/.paragon completion zsh > completions/_paragon
./completions/.paragon completion fish > completions/paragon.fish
./completions/.paragon docs man manpages 2>/dev/null
gzip -9n manpages/*.1
rm completions/.paragon
