#!/usr/bin/env bash
# Real binaries on loopback: `peer backup --keep-versions 2` follows a
# channel through three versions. With the publisher gone, `peer get` still
# gets a file of the version before the latest from the backup alone,
# byte-identical; the version before that is no longer kept. A restart
# serves the kept version again at once.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/site" "$WORK/out"
head -c 300000 /dev/urandom >"$WORK/site/data.bin"
echo "notes, version 1" >"$WORK/site/notes.txt"
cp "$WORK/site/notes.txt" "$WORK/notes-v1.txt"

start_tracker --ttl 600
"$PEER" keygen -o "$WORK/site.key" >"$WORK/keygen.out" 2>"$WORK/keygen.log" || fail "keygen exited with $?"
channel=$(cat "$WORK/keygen.out")
"$PEER" publish "$WORK/site" --key "$WORK/site.key" --name site --tracker "$TRACKER_ADDR" \
    --host 127.0.0.1 --no-state --rescan 0.2 >"$WORK/publisher.out" 2>"$WORK/publisher.log" &
PIDS+=($!)
publisher_pid=$!
wait_for_line "$WORK/publisher.out" "published version 1: 2 files"

start_backup() {
    "$PEER" backup "$WORK/bk" --tracker "$TRACKER_ADDR" --host 127.0.0.1 --no-state --poll 0.2 \
        --keep-versions 2 >"$WORK/$1.out" 2>"$WORK/$1.log" &
    PIDS+=($!)
    backup_pid=$!
}
# The backup leaves (running until now).
stop_backup() {
    kill -0 "$backup_pid" || fail "the backup was not running"
    kill -TERM "$backup_pid"
    wait "$backup_pid" || fail "the backup exited with $?"
}
# get_kept NAME: the kept notes.txt from the backup alone, byte-identical.
get_kept() {
    rm -rf "$WORK/out"
    timeout 60 "$PEER" get "${seeds[0]}" --tracker "$TRACKER_ADDR" -o "$WORK/out" --no-state -q \
        >"$WORK/$1.out" 2>"$WORK/$1.log" || fail "$1: get of the kept file exited with $?"
    cmp "$WORK/notes-v1.txt" "$WORK/out/notes.txt" || fail "$1: the kept notes.txt differs"
}
start_backup bk
wait_for_line "$WORK/bk.log" "version 1 held" 30

# Version 2: data.bin replaced. Version 3: notes.txt edited.
head -c 300000 /dev/urandom >"$WORK/site/data.bin.new"
mv "$WORK/site/data.bin.new" "$WORK/site/data.bin"
wait_for_line "$WORK/publisher.out" "published version 2"
wait_for_line "$WORK/bk.log" "version 2 held" 30
grep -q "keeping version 1: 1 file" "$WORK/bk.log" || fail "version 1 was not kept"
echo "notes, version 3" >"$WORK/site/notes.txt"
wait_for_line "$WORK/publisher.out" "published version 3"
wait_for_line "$WORK/bk.log" "version 3 held" 30
wait_for_line "$WORK/bk.log" "version 1 no longer kept" 10
kept="$WORK/bk/channel-versions/$channel"
[[ ! -e "$kept/1" ]] || fail "version 1 is still kept: $(ls "$kept")"
seeds=("$kept"/2/*.seed)
[[ ${#seeds[@]} -eq 1 && -f "${seeds[0]}" ]] || fail "version 2 keeps $(ls "$kept/2")"

# The publisher leaves (running until now): notes.txt of version 2 (its text
# since version 1) is held by the backup alone.
kill -0 "$publisher_pid" || fail "the publisher was not running"
kill -TERM "$publisher_pid"
wait "$publisher_pid" || fail "the publisher exited with $?"
get_kept get

# A restart serves the kept version again at once.
stop_backup
start_backup bk2
wait_for_line "$WORK/bk2.log" "1 earlier version kept" 30
get_kept get2
stop_backup
echo "ok"
