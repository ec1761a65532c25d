#!/usr/bin/env bash
# Real binaries on loopback: three `peer serve` share five files and a sixth
# too big for the quota; `peer backup --max-size` mirrors the five, names
# the sixth as skipped; every sharer leaves and `peer get` still gets each
# file, byte-identical, from the backup alone. A restarted backup serves at
# once and fetches nothing again (bytes counted).
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/s1" "$WORK/s2" "$WORK/s3" "$WORK/out" "$WORK/seeds"
head -c 200000 /dev/urandom >"$WORK/s1/a.bin"
head -c 300000 /dev/urandom >"$WORK/s1/b.bin"
head -c 400000 /dev/urandom >"$WORK/s2/c.bin"
head -c $((3 << 20)) /dev/urandom >"$WORK/s2/big.bin"
head -c 500000 /dev/urandom >"$WORK/s3/d.bin"
head -c 1000 /dev/urandom >"$WORK/s3/e.txt"
small=(s1/a.bin s1/b.bin s2/c.bin s3/d.bin s3/e.txt)

start_tracker --ttl 600
for f in "${small[@]}"; do
    "$PEER" make-seed "$WORK/$f" -o "$WORK/seeds/$(basename "$f").seed" --tracker "$TRACKER_ADDR" >/dev/null
done
start_serve s1 "$WORK/s1"
start_serve s2 "$WORK/s2"
start_serve s3 "$WORK/s3"
sharers=("${PIDS[@]:1}")

"$PEER" backup "$WORK/bk" --tracker "$TRACKER_ADDR" --host 127.0.0.1 --no-state --poll 0.2 \
    --max-size 2M >"$WORK/bk.out" 2>"$WORK/bk.log" &
PIDS+=($!)
backup_pid=$!
wait_for_line "$WORK/bk.out" "backup of"
for ((i = 0; i < 600; i++)); do
    [[ $(grep -c "holding " "$WORK/bk.log" || true) -ge 5 ]] && break
    sleep 0.1
done
[[ $(grep -c "holding " "$WORK/bk.log" || true) -eq 5 ]] || fail "the backup does not hold the 5 files"
wait_for_line "$WORK/bk.log" "skipped big.bin .*--max-size"
[[ ! -e "$WORK/bk/files/"*/big.bin.part ]] || fail "a part of big.bin was kept"

# Every sharer leaves (each still running until now).
for pid in "${sharers[@]}"; do
    kill -0 "$pid" || fail "sharer $pid was not running"
    kill -TERM "$pid"
    wait "$pid" || fail "sharer $pid exited with $?"
done
"$PEER" list --tracker "$TRACKER_ADDR" >"$WORK/list.out" 2>&1 || fail "list failed"

for f in "${small[@]}"; do
    name=$(basename "$f")
    timeout 60 "$PEER" get "$WORK/seeds/$name.seed" -o "$WORK/out" --no-state -q \
        >"$WORK/get-$name.out" 2>"$WORK/get-$name.log" || fail "get $name exited with $?"
    cmp "$WORK/$f" "$WORK/out/$name" || fail "$name from the backup differs"
done

kill -0 "$backup_pid" || fail "the backup was not running"
kill -TERM "$backup_pid"
wait "$backup_pid" || fail "the backup exited with $?"
total=$((200000 + 300000 + 400000 + 500000 + 1000))
grep -q "^backup held 5 files ($total bytes); fetched $total bytes; 1 skipped$" "$WORK/bk.out" ||
    fail "unexpected summary: $(cat "$WORK/bk.out")"

# Restart: serving at once, nothing fetched again.
"$PEER" backup "$WORK/bk" --tracker "$TRACKER_ADDR" --host 127.0.0.1 --no-state --poll 0.2 \
    --max-size 2M >"$WORK/bk2.out" 2>"$WORK/bk2.log" &
PIDS+=($!)
backup_pid=$!
wait_for_line "$WORK/bk2.out" "serving 5 files already held"
rm -rf "$WORK/out"
timeout 60 "$PEER" get "$WORK/seeds/d.bin.seed" -o "$WORK/out" --no-state -q \
    >"$WORK/get-again.out" 2>"$WORK/get-again.log" || fail "get from the restarted backup exited with $?"
cmp "$WORK/s3/d.bin" "$WORK/out/d.bin" || fail "d.bin from the restarted backup differs"
kill -0 "$backup_pid" || fail "the restarted backup was not running"
kill -TERM "$backup_pid"
wait "$backup_pid" || fail "the restarted backup exited with $?"
# (big.bin's sharer left: nobody holds it, so it is not even skipped.)
grep -q "^backup held 5 files ($total bytes); fetched 0 bytes; 0 skipped$" "$WORK/bk2.out" ||
    fail "the restart fetched again: $(cat "$WORK/bk2.out")"
echo "ok"
