#!/usr/bin/env bash
# Runs every test of trailtriage. On a fresh Debian machine with only the Rust
# toolchain it first installs what the tests need:
#   - s3s-fs 0.14.1 (crates.io), the S3-compatible server the S3 tests start on 127.0.0.1
#   - DuckDB CLI (PyPI duckdb-cli), which runs queries/ against real Parquet output
#   - Chromium (Debian), which renders the HTML report in a test
# Every test runs; none is skipped silently: a test whose tool is missing fails
# and says which install step to run.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
. scripts/ci/devnull.sh
devnull_reset

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "test.sh: need root for: $*" >&2; return 1; fi
}

# Debian packages: curl (server health checks), chromium (HTML report test).
need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_apt[*]} from Debian" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# DuckDB CLI from PyPI (pip from Debian if the machine has none; Debian's own
# Python refuses system-wide installs unless told otherwise, PEP 668).
if ! command -v duckdb >/dev/null; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    echo "test.sh: installing duckdb-cli from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check duckdb-cli 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages duckdb-cli
    hash -r
fi

# s3s-fs from crates.io (skipped when already installed).
bash scripts/ci/s3-server.sh

echo "test.sh: tools: $(command -v s3s-fs) $(command -v duckdb) $(command -v chromium)" >&2
devnull_reset
cargo test --locked "$@"
