#!/usr/bin/env bash
# Builds the reference server's container image (Containerfile) with podman
# and checks it without starting a container (CI machines refuse a container
# runtime the cgroup control it needs):
#  - the image's configuration: entrypoint /usr/bin/paragon, default command
#    `server --addr 0.0.0.0:7300`, non-root user 65532:65532, exposed port
#    7300/tcp, the org.opencontainers.image.* labels, the architecture;
#  - its files, through `podman create` + `podman export`: the binary, the CA
#    certificates, the user in /etc/passwd, /data owned by that user, nothing
#    else;
#  - the extracted binary runs: `paragon version` names the stamped version,
#    `paragon server --help` answers, the default command without
#    PARAGON_ADMIN_TOKEN refuses to start and says why, and with a token the
#    binary serves /healthz (on 127.0.0.1, not in a container).
# Both release platforms are built (linux/amd64 and linux/arm64; FROM scratch
# has no RUN step, so no emulation is needed); the binary is run for the
# machine's own architecture only.
#
#   scripts/image-check.sh
#
# podman keeps its images in a temporary storage root (vfs driver), removed
# at exit, so nothing is left in the machine's own podman storage. Run as
# root (as CI does) or with rootless podman set up.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
fail() { echo "image check: $*" >&2; exit 1; }
command -v podman >/dev/null || fail "podman is not installed (Debian: apt-get install podman)"
[ -s /etc/ssl/certs/ca-certificates.crt ] || fail "no CA bundle at /etc/ssl/certs/ca-certificates.crt (Debian: apt-get install ca-certificates)"

# $tmp (removed at exit), $pids (killed at exit), wait_url
. bench/lib.sh
store=(--root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)
trap 'podman "${store[@]}" rm -af >/dev/null 2>&1 || true
  podman "${store[@]}" rmi -af >/dev/null 2>&1 || true
  cleanup' EXIT

native=$(go env GOARCH)
version="0.0.0-image-check"
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# The build context, laid out as goreleaser's dockers_v2 lays it out.
ctx="$tmp/context"
mkdir -p "$ctx/container/etc/ssl/certs"
cp Containerfile "$ctx/"
cp -R container/etc container/data "$ctx/container/"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/container/etc/ssl/certs/"
for arch in amd64 arm64; do
  mkdir -p "$ctx/linux/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X github.com/paragon-cli/paragon/cmd/internal/build.Version=$version" \
    -o "$ctx/linux/$arch/paragon" ./cmd/paragon
done
echo "binaries built: $((SECONDS - start))s"

for arch in amd64 arm64; do
  image="localhost/paragon:image-check-$arch"
  podman "${store[@]}" build --quiet --no-cache --platform "linux/$arch" --build-arg "TARGETPLATFORM=linux/$arch" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$created" \
    -f Containerfile -t "$image" "$ctx" >/dev/null
  cfg() { podman "${store[@]}" image inspect --format "$1" "$image"; }

  # The configuration.
  [ "$(cfg '{{.Architecture}}')" = "$arch" ] || fail "$image: architecture $(cfg '{{.Architecture}}'), want $arch"
  [ "$(cfg '{{.Os}}')" = linux ] || fail "$image: os $(cfg '{{.Os}}')"
  [ "$(cfg '{{json .Config.Entrypoint}}')" = '["/usr/bin/paragon"]' ] || fail "$image: entrypoint $(cfg '{{json .Config.Entrypoint}}')"
  [ "$(cfg '{{json .Config.Cmd}}')" = '["server","--addr","0.0.0.0:7300"]' ] || fail "$image: command $(cfg '{{json .Config.Cmd}}')"
  [ "$(cfg '{{.Config.User}}')" = 65532:65532 ] || fail "$image: user '$(cfg '{{.Config.User}}')', want 65532:65532"
  [ "$(cfg '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')" = "7300/tcp " ] ||
    fail "$image: exposed ports $(cfg '{{json .Config.ExposedPorts}}'), want 7300/tcp only"
  for l in title description url source documentation licenses version revision created; do
    v=$(cfg "{{index .Config.Labels \"org.opencontainers.image.$l\"}}")
    [ -n "$v" ] || fail "$image: no label org.opencontainers.image.$l"
  done
  [ "$(cfg '{{index .Config.Labels "org.opencontainers.image.version"}}')" = "$version" ] || fail "$image: version label"
  [ "$(cfg '{{index .Config.Labels "org.opencontainers.image.licenses"}}')" = MIT ] || fail "$image: licenses label"

  # The files, from a created (never started) container.
  cid=$(podman "${store[@]}" create --platform "linux/$arch" "$image")
  root="$tmp/rootfs-$arch"
  mkdir -p "$root"
  podman "${store[@]}" export "$cid" > "$tmp/rootfs-$arch.tar"
  podman "${store[@]}" rm "$cid" >/dev/null
  listing=$(tar --numeric-owner -tvf "$tmp/rootfs-$arch.tar")
  tar -xf "$tmp/rootfs-$arch.tar" -C "$root"
  files=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
  want="./data/.keep ./etc/group ./etc/passwd ./etc/ssl/certs/ca-certificates.crt ./usr/bin/paragon "
  [ "$files" = "$want" ] || fail "$image: files are: $files; want: $want"
  cmp -s "$root/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt || fail "$image: the CA bundle differs from the build host's"
  grep -qx 'paragon:x:65532:65532:paragon:/data:/sbin/nologin' "$root/etc/passwd" || fail "$image: no user paragon (65532) in /etc/passwd"
  grep -Eq '^d[rwx-]{9} 65532/65532 .* data/?$' <<<"$listing" || fail "$image: /data is not owned by 65532: $(grep ' data/*$' <<<"$listing")"
  grep -Eq '^-rwxr-xr-x 0/0 .* usr/bin/paragon$' <<<"$listing" || fail "$image: /usr/bin/paragon is not root-owned mode 0755"
  echo "image linux/$arch: configuration and files checked ($((SECONDS - start))s)"
done

# The native binary, as the image would run it.
bin="$tmp/rootfs-$native/usr/bin/paragon"
got=$(env -i "$bin" version)
case "$got" in "paragon version $version"*) ;; *) fail "paragon version: $got" ;; esac
# (not piped into grep -q: under pipefail, grep quitting early would fail
# the writer with SIGPIPE)
help=$(env -i "$bin" server --help) || fail "paragon server --help failed"
grep -q 'PARAGON_ADMIN_TOKEN' <<<"$help" || fail "paragon server --help does not mention PARAGON_ADMIN_TOKEN"
# The default command without a token: refused, with the reason.
if out=$(env -i HOME=/nonexistent "$bin" server --addr 0.0.0.0:7300 2>&1); then
  fail "the default command started without PARAGON_ADMIN_TOKEN"
fi
grep -q 'PARAGON_ADMIN_TOKEN' <<<"$out" || fail "the refusal does not say to set PARAGON_ADMIN_TOKEN: $out"
# With a token the binary serves (on loopback: this is not a container).
env -i PARAGON_ADMIN_TOKEN=image-check "$bin" server --addr 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pids+=($!)
url=$(wait_url "$tmp/out") || fail "the extracted server did not start: $(cat "$tmp/err")"
[ "$(curl -fsS "$url/healthz")" = '{"status":"ok"}' ] || fail "GET $url/healthz did not answer ok"
echo "image check passed in $((SECONDS - start))s (no container was started)"
