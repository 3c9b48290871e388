#!/bin/sh
# Build herald's container image without pulling anything: the static
# binary is built here with the local Go toolchain and copied, with this
# machine's CA certificates, into a FROM scratch image (see ../Dockerfile).
#
#   deploy/build-image.sh [TAG]        (default herald:local; VERSION=… sets the version)
#
# Uses `go` and `docker` from PATH (DOCKER_HOST is honoured).
set -eu
cd "$(dirname "$0")/.."
tag=${1:-herald:local}
version=${VERSION:-0.1.0-dev}
certs=${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$certs" ] || { echo "build-image.sh: $certs not found (Debian: apt-get install ca-certificates; or set CA_CERTIFICATES)" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/herald" ./cmd/herald
cp "$certs" "$ctx/ca-certificates.crt"
mkdir "$ctx/data" "$ctx/tmp"
docker build -t "$tag" -f Dockerfile "$ctx"
