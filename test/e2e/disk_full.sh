#!/usr/bin/env bash
# Faults: the disk fills up during `peer get`, on a small tmpfs mounted for
# this test (skipped, exit 77, where mounting is not allowed). A full disk at
# the start is one clear line and leaves nothing behind; a disk that fills
# up mid-download is one clear line and keeps NAME.part; with room again, the
# same command resumes and fetches only what is missing.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mnt="$WORK/small"
mkdir -p "$mnt"
if [[ $(id -u) -ne 0 ]] || ! mount -t tmpfs -o size=12m seedshare-test "$mnt" 2>/dev/null; then
    echo "skipped: cannot mount a tmpfs here (needs root)"
    exit 77
fi
unmount_then_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    cleanup
}
trap unmount_then_cleanup EXIT

mkdir -p "$WORK/a" "$mnt/out"
head -c $((24 << 20)) /dev/urandom >"$WORK/a/data.bin"
start_tracker
# The default chunk size: the server's own seed of data.bin must be this one.
id=$("$PEER" make-seed "$WORK/a/data.bin" -o "$WORK/data.seed" --tracker "$TRACKER_ADDR" |
    grep -o 'id [0-9a-f]\{64\}' | cut -c4-)
chunk=$(awk '$1 == "chunk-size" {print $2}' "$WORK/data.seed")
chunks=$(awk '$1 == "chunks" {print $2}' "$WORK/data.seed")
start_serve a "$WORK/a"

get() {  # get NAME: runs `peer get` into the tmpfs; sets rc
    rc=0
    timeout 120 "$PEER" get "$WORK/data.seed" -o "$mnt/out" --host 127.0.0.1 \
        >"$WORK/$1.out" 2>"$WORK/$1.log" || rc=$?
}
said() { grep '^peer: ' "$WORK/$1.log" || true; }

# 1. 24 MiB do not fit in 12: refused at once, nothing left behind.
get full
[[ $rc -eq 1 ]] || fail "a get onto a full disk exited with $rc"
[[ $(said full | wc -l) -eq 1 ]] || fail "expected one line saying why, got: $(cat "$WORK/full.log")"
said full | grep -q "No space left on device" || fail "unclear: $(said full)"
[[ -z "$(ls -A "$mnt/out")" ]] || fail "left behind: $(ls -A "$mnt/out")"

# 2. A part file of ours whose space was never reserved (sparse, as a copy
# can leave it): the disk fills up in the middle of the download. Ours: the
# data, then the trailer naming the seed (see peer/storage/part_file.hpp).
truncate -s $((24 << 20)) "$mnt/out/data.bin.part"
printf '\nseedshare-part 1 %s\n' "$id" >>"$mnt/out/data.bin.part"
get midway
[[ $rc -eq 1 ]] || fail "a get that filled the disk exited with $rc"
[[ $(said midway | wc -l) -eq 1 ]] || fail "expected one line saying why, got: $(cat "$WORK/midway.log")"
said midway | grep -q "No space left on device" || fail "unclear: $(said midway)"
said midway | grep -q "a rerun resumes" || fail "does not say a rerun resumes: $(said midway)"
echo "full disk at the start: $(said full)"
echo "full disk midway: $(said midway)"
[[ -e "$mnt/out/data.bin.part" && ! -e "$mnt/out/data.bin" ]] ||
    fail "the partial file was not kept: $(ls -A "$mnt/out")"

# 3. Room again: the same command resumes and completes.
mount -o remount,size=64m "$mnt" || fail "cannot grow the tmpfs"
get resumed
[[ $rc -eq 0 ]] || fail "the resumed get exited with $rc: $(cat "$WORK/resumed.log")"
cmp "$WORK/a/data.bin" "$mnt/out/data.bin" || fail "the downloaded file differs"
have=$(grep -o 'resuming: [0-9]* of' "$WORK/resumed.log" | awk '{print $2}')
[[ -n "$have" && $have -gt 0 ]] || fail "nothing was resumed: $(cat "$WORK/resumed.log")"
fetched=$(grep -o '[0-9.]* [KMG]*i*B fetched' "$WORK/resumed.out" |
    awk '{u = $2 == "B" ? 1 : $2 == "KiB" ? 1024 : $2 == "MiB" ? 1048576 : 1073741824;
          printf "%d\n", $1 * u}')
missing=$(((chunks - have) * chunk))
echo "resumed $have of $chunks chunks; fetched $fetched bytes of $missing missing"
((fetched <= missing + 4 * chunk + (1 << 20) / 100)) ||
    fail "fetched $fetched bytes, more than the $missing missing"
echo "ok"
