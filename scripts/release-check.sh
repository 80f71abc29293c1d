#!/usr/bin/env bash
# Proves the release configuration: goreleaser (from the Go module proxy)
# checks .goreleaser.yaml and builds a snapshot of every target with archives,
# checksums and deb/rpm packages; then
#  - the linux/amd64 binary reports the stamped version, and the commit and
#    build date whenever goreleaser can read the git history (a clone with a
#    remote, as in CI);
#  - every archive carries the binary, README, LICENSE, CHANGELOG, the bash,
#    zsh and fish completions and the man pages;
#  - the .deb installs the binary, completions and man pages where bash, zsh,
#    fish and man look for them; the man page it installs opens with man -l
#    and the bash completion it installs completes `paragon sc` to scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
fail() { echo "release check: $*" >&2; exit 1; }

GORELEASER_VERSION=v2.15.1
bin="$(go env GOPATH)/bin/goreleaser"
if ! "$bin" --version 2>/dev/null | grep -F "${GORELEASER_VERSION#v}" >/dev/null; then
  echo "installing goreleaser $GORELEASER_VERSION from the Go module proxy"
  go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
fi
"$bin" check
# --skip=docker: the container image (dockers_v2) needs docker buildx, which
# CI does not have; scripts/image-check.sh builds and checks it with podman.
"$bin" release --snapshot --clean --skip=publish,docker
echo "goreleaser check and snapshot: $((SECONDS - start))s"

# The stamped version, commit and date.
meta() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" dist/metadata.json; }
version=$(meta version)
got=$(./dist/paragon_linux_amd64_v1/paragon version)
echo "stamped: $got"
case "$got" in
  "paragon version $version"|"paragon version $version "*) ;;
  *) fail "expected the stamped version $version, got: $got" ;;
esac
if git ls-remote --get-url >/dev/null 2>&1; then
  # goreleaser reads the commit only when the repository has a remote.
  head=$(git rev-parse HEAD)
  [ "$(meta commit)" = "$head" ] || fail "dist/metadata.json names commit $(meta commit), HEAD is $head"
  short=$(sed -n 's/.*(commit \([0-9a-f]*\), built [0-9T:Z-]*)$/\1/p' <<<"$got")
  [ -n "$short" ] && [ "${head#"$short"}" != "$head" ] ||
    fail "paragon version does not name commit ${head:0:7} and a build date: $got"
else
  echo "note: no git remote, so goreleaser cannot read the commit; not checking it (CI clones have one)"
fi

# Archives: one per OS and architecture, each with the same files.
files=(README.md LICENSE CHANGELOG.md completions/paragon.bash completions/_paragon
  completions/paragon.fish manpages/paragon.1.gz manpages/paragon-scenario-run.1.gz)
n=0
for f in dist/paragon_*_{linux,darwin}_{amd64,arm64}.tar.gz; do
  [ -f "$f" ] || fail "missing archive $f"
  list=$(tar -tzf "$f")
  for w in paragon "${files[@]}"; do
    grep -qx -- "$w" <<<"$list" || fail "$f lacks $w"
  done
  n=$((n + 1))
done
for f in dist/paragon_*_windows_{amd64,arm64}.zip; do
  [ -f "$f" ] || fail "missing archive $f"
  if command -v unzip >/dev/null; then
    list=$(unzip -Z1 "$f")
    for w in paragon.exe "${files[@]}"; do
      grep -qx -- "$w" <<<"$list" || fail "$f lacks $w"
    done
  fi
  n=$((n + 1))
done
[ "$n" = 6 ] || fail "expected 6 archives, found $n"
(cd dist && sha256sum --quiet -c checksums.txt) || fail "checksums.txt does not match the artifacts"

# Packages: a .deb and an .rpm per architecture.
ls dist/*_amd64.deb dist/*_arm64.deb dist/*.x86_64.rpm dist/*.aarch64.rpm >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deb=$(ls dist/*_amd64.deb)
if command -v dpkg-deb >/dev/null; then
  dpkg-deb -x "$deb" "$tmp/root"
  for w in usr/bin/paragon \
    usr/share/bash-completion/completions/paragon \
    usr/share/zsh/vendor-completions/_paragon \
    usr/share/fish/vendor_completions.d/paragon.fish \
    usr/share/man/man1/paragon.1.gz usr/share/man/man1/paragon-scenario-run.1.gz \
    usr/share/doc/paragon/copyright; do
    [ -f "$tmp/root/$w" ] || fail "$deb does not install /$w"
  done
  man1="$tmp/root/usr/share/man/man1"
  bashcomp="$tmp/root/usr/share/bash-completion/completions/paragon"
  PATH="$tmp/root/usr/bin:$PATH"
else
  echo "note: dpkg-deb not installed; checking the man page and completion from the archive"
  tar -xzf dist/paragon_*_linux_amd64.tar.gz -C "$tmp"
  man1="$tmp/manpages"
  bashcomp="$tmp/completions/paragon.bash"
  PATH="$tmp:$PATH"
fi
if command -v rpm >/dev/null; then
  grep -qx /usr/share/zsh/site-functions/_paragon <<<"$(rpm -qlp dist/*.x86_64.rpm)" ||
    fail "the rpm does not install the zsh completion in /usr/share/zsh/site-functions"
fi

# The man page opens, and names this version in its footer.
page=$(MANWIDTH=80 MANPAGER=cat man -l "$man1/paragon.1.gz") || fail "man -l could not render paragon.1"
grep -q 'paragon - ' <<<"$page" || fail "paragon.1 has no NAME line"
grep -qF "paragon $version" <<<"$page" || fail "paragon.1 does not name version $version"
# (captured, not piped into grep -q: under pipefail, grep quitting at the
# first line would fail man with SIGPIPE)
page=$(MANWIDTH=80 MANPAGER=cat man -l "$man1/paragon-scenario-run.1.gz") || fail "man -l could not render paragon-scenario-run.1"
grep -q '^PARAGON-SCENARIO-RUN(1)' <<<"$page" || fail "paragon-scenario-run.1 is not titled PARAGON-SCENARIO-RUN(1)"

# The packaged bash completion, with the packaged binary answering.
if [ -f /usr/share/bash-completion/bash_completion ]; then
  got=$(bash --norc --noprofile -c 'source /usr/share/bash-completion/bash_completion; source "$1"
    COMP_WORDS=(paragon sc); COMP_CWORD=1; COMP_LINE="paragon sc"; COMP_POINT=${#COMP_LINE}
    fn=$(complete -p paragon | sed -E "s/.*-F ([^ ]+) .*/\1/")
    "$fn" paragon sc paragon 2>/dev/null; printf "%s\n" "${COMPREPLY[@]}"' bash "$bashcomp")
  [ "$got" = scenario ] || fail "the packaged bash completion completes 'paragon sc' to '$got', not scenario"
else
  echo "note: bash-completion not installed; not trying the packaged completion"
fi

echo "release check passed in $((SECONDS - start))s"
