#!/usr/bin/env bash
# The man pages: generated in BUILD/man from the programs' --help, rendered by
# man(1) with every command's options and the exit codes, and installed by
# `cmake --install` into share/man/man1, gzipped (with the programs in bin).
#   test/cli_man_test.sh BUILD_DIR
set -euo pipefail
build=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

for page in peer tracker; do
    [[ -s "$build/man/$page.1" ]] || fail "$build/man/$page.1 was not generated"
done

if command -v man >/dev/null; then
    peer=$(MANWIDTH=100 man -l "$build/man/peer.1" 2>&1)
    for needle in "NAME" "peer - " "SYNOPSIS" "peer make-seed" "peer get" "peer serve" "peer list" "peer keygen" \
                  "--chunk-size SIZE" "--max-upload-rate RATE" "--timeout SECONDS" "--filter NAME" "--channels" \
                  "EXIT STATUS" "SIZES AND RATES" "EXAMPLES" "peer get big.iso.seed" \
                  "$("$build/peer/peer" --version)"; do
        grep -qF -- "$needle" <<<"$peer" || fail "peer.1 as rendered lacks '$needle'"
    done
    tracker=$(MANWIDTH=100 man -l "$build/man/tracker.1" 2>&1)
    for needle in "tracker - " "--port PORT" "--ttl SECONDS" "EXIT STATUS" "EXAMPLES"; do
        grep -qF -- "$needle" <<<"$tracker" || fail "tracker.1 as rendered lacks '$needle'"
    done
    if grep -q "warning" <<<"$peer$tracker"; then fail "man warned: $peer$tracker"; fi
else
    echo "man(1) is not installed: rendering not checked"
fi

prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in share/man/man1/peer.1.gz share/man/man1/tracker.1.gz bin/peer bin/tracker; do
    [[ -f "$prefix/$f" ]] || fail "cmake --install did not install $f"
done
# (Installed compressed, as Debian wants.)
zcat "$prefix/share/man/man1/peer.1.gz" | cmp "$build/man/peer.1" -
echo "ok"
