#!/usr/bin/env bash
# The install and the .deb:
# - `cmake --install` into a temporary prefix puts the programs, their
#   (compressed) man pages and the systemd units naming the installed
#   programs in place;
# - CPack builds the .deb; its Depends name the runtime packages of the
#   libraries the programs link; unpacked (dpkg-deb -x), the programs run
#   (--version, --help) and the units name them; lintian (where installed)
#   finds no error; systemd-analyze (where present) accepts the units.
# Skipped (exit 77) without cpack or dpkg-deb.
#   test/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "dpkg-deb missing: skipped"; exit 77; }
cpack=$(dirname "$(command -v cmake)")/cpack
[[ -x "$cpack" ]] || { echo "cpack missing: skipped"; exit 77; }
work=$(mktemp -d /tmp/seedshare-package.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$("$build/peer/peer" --version | awk '{print $NF}')
units="seedshare-tracker.service seedshare-serve@.service seedshare-publish@.service seedshare-subscribe@.service seedshare-backup.service"

# cmake --install into a prefix of our own.
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || fail "install: $(cat "$work/install.log")"
for f in bin/peer bin/tracker share/man/man1/peer.1.gz share/man/man1/tracker.1.gz; do
    [[ -s "$work/prefix/$f" ]] || fail "install: no $f"
done
for u in $units; do
    grep -q "^ExecStart=$work/prefix/bin/" "$work/prefix/lib/systemd/system/$u" ||
        fail "install: $u does not run the installed program: $(grep ExecStart "$work/prefix/lib/systemd/system/$u")"
done

# The .deb.
(cd "$build" && "$cpack" -G DEB -B "$work/deb") >"$work/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$work/cpack.log")"
deb=$(ls "$work"/deb/seedshare_"$version"_*.deb)
[[ -f "$deb" ]] || fail "no .deb in $work/deb"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libstdc++6 libsqlite3-0 libcrypto++8 libfmt9 libcpp-httplib0.11; do
    grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "version: $(dpkg-deb -f "$deb" Version)"

root="$work/root"
dpkg-deb -x "$deb" "$root"
[[ $("$root/usr/bin/peer" --version) == "peer (seedshare) $version" ]] || fail "peer --version"
[[ $("$root/usr/bin/tracker" --version) == "tracker (seedshare) $version" ]] || fail "tracker --version"
"$root/usr/bin/tracker" --help | grep -q -- "--http HOST:PORT" || fail "tracker --help lacks --http"
"$root/usr/bin/peer" serve --help | grep -q -- "--metrics HOST:PORT" || fail "peer serve --help lacks --metrics"
zcat "$root/usr/share/man/man1/tracker.1.gz" | grep -q -- "http" || fail "tracker.1 lacks --http"
for u in $units; do
    f="$root/usr/lib/systemd/system/$u"
    [[ -f "$f" ]] || fail "the .deb lacks $u"
    grep -q '^ExecStart=/usr/bin/' "$f" || fail "$u: $(grep ExecStart "$f")"
    for h in DynamicUser=yes ProtectSystem=strict PrivateTmp=yes StateDirectory=seedshare NoNewPrivileges=yes; do
        grep -q "^$h" "$f" || fail "$u lacks $h"
    done
done
[[ -f "$root/usr/share/doc/seedshare/copyright" ]] || fail "no copyright file"

if command -v systemd-analyze >/dev/null; then
    # (The programs are not installed on this machine: that complaint aside,
    # nothing may be wrong with the units.)
    for u in $units; do
        out=$(systemd-analyze verify --man=no "$root/usr/lib/systemd/system/$u" 2>&1 | grep -v "is not executable" || true)
        [[ -z "$out" ]] || fail "systemd-analyze verify $u: $out"
    done
else
    echo "systemd-analyze missing: units not verified"
fi

if command -v lintian >/dev/null; then
    lintian --tag-display-limit 0 "$deb" >"$work/lintian.out" 2>&1 || true
    if grep -q "^E:" "$work/lintian.out"; then fail "lintian: $(cat "$work/lintian.out")"; fi
    cat "$work/lintian.out"
else
    echo "lintian missing (apt-get install lintian): the .deb not checked with it"
fi
echo "ok: $(basename "$deb")"
