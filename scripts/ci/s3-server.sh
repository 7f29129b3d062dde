#!/usr/bin/env bash
# Install (once) and optionally start s3s-fs 0.14.1, the S3-compatible server
# the S3 tests run against (see shared/s3-server.md).
#
#   scripts/ci/s3-server.sh                     # install only, when missing
#   scripts/ci/s3-server.sh start ROOTDIR PORT  # install if needed, start, wait, print the PID
#
# The install takes 3 to 4 minutes on 2 cores; it is skipped when
# `s3s-fs --version` already prints 0.14.1. 0.15 and later need rustc >= 1.96.
set -euo pipefail

VERSION=0.14.1

installed() {
    command -v s3s-fs >/dev/null 2>&1 && s3s-fs --version 2>/dev/null | grep -q "$VERSION"
}

if ! installed; then
    echo "s3-server.sh: installing s3s-fs $VERSION (3-4 minutes)" >&2
    cargo install s3s-fs --version "$VERSION" --locked --features binary
fi
if ! installed; then
    echo "s3-server.sh: s3s-fs $VERSION is not on PATH after install (is ~/.cargo/bin on PATH?)" >&2
    exit 1
fi

if [ "${1:-}" = "start" ]; then
    root=${2:?usage: s3-server.sh start ROOTDIR PORT}
    port=${3:?usage: s3-server.sh start ROOTDIR PORT}
    mkdir -p "$root"
    s3s-fs --host 127.0.0.1 --port "$port" --access-key test --secret-key test "$root" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)
        if [ "$code" != "000" ]; then
            echo "$pid"
            exit 0
        fi
        sleep 0.1
    done
    echo "s3-server.sh: s3s-fs did not start on port $port" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
fi
