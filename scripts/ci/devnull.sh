# Sourced by .ci/run and scripts/test.sh.
#
# On some sandboxes /dev/null is a regular file, not the null device: what one
# process writes "to /dev/null" another reads back from it. Cargo starts rustc
# with stdin from /dev/null to probe the target ("rustc - --print=cfg"), so
# rustix's build-script probe output, written there earlier, was parsed as Rust
# source and a fresh target directory failed with "unknown start of token"
# (CI, session 5). Put the device back when we may; otherwise empty the file
# before every cargo step (`devnull_reset`).
devnull_reset() {
    [ -c /dev/null ] && return 0
    if [ "$(id -u)" = 0 ] && mknod -m 666 /dev/null.tt.$$ c 1 3 2>/dev/null; then
        if mv -f /dev/null.tt.$$ /dev/null 2>/dev/null; then
            echo "devnull: /dev/null was a regular file; restored the null device" >&2
            return 0
        fi
        rm -f /dev/null.tt.$$
    fi
    if [ -f /dev/null ] && [ -w /dev/null ]; then
        : > /dev/null
    fi
}
