#!/usr/bin/env bash
# `peer get SEED...`: several files in one process, --parallel at once. Every
# file arrives verified; one SEED nobody has fails alone (named, exit 1, the
# others still fetched); --json gives one object per SEED; the same seed
# twice, two seeds of one name and a bad --parallel are usage errors before
# any byte moves; a SIGINT stops the files under way and begins no other.
BUILD=${1:?usage: $0 BUILD_DIR}
source "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/a" "$WORK/slow" "$WORK/other"
for i in 1 2 3 4 5 6; do
    head -c $((i * 700000)) /dev/urandom >"$WORK/a/f$i.bin"
done
: >"$WORK/a/empty.bin"
start_tracker
start_serve a "$WORK/a"
for f in "$WORK"/a/*.bin; do
    "$PEER" make-seed "$f" -o "$f.seed" --tracker "$TRACKER_ADDR" >/dev/null
done
ids=()
for f in "$WORK"/a/*.bin.seed; do
    ids+=("$(grep -v '^tracker ' "$f" | sha256sum | cut -d' ' -f1)")
done
[[ ${#ids[@]} -eq 7 ]] || fail "expected 7 seeds, made ${#ids[@]}"
nobody=$(printf '%064d' 7)

# Seven by id from the tracker and one nobody has, three at a time.
rc=0
timeout 120 "$PEER" get "${ids[@]}" "$nobody" --tracker "$TRACKER_ADDR" -o "$WORK/out" \
    --parallel 3 --no-state --host 127.0.0.1 >"$WORK/many.out" 2>"$WORK/many.log" || rc=$?
[[ $rc -eq 1 ]] || fail "get of 7 files and an unknown seed exited with $rc, expected 1"
for f in "$WORK"/a/*.bin; do
    cmp -s "$f" "$WORK/out/$(basename "$f")" || fail "$(basename "$f") differs or is missing"
done
got=$(grep -c '^got .*whole-file SHA-256 verified' "$WORK/many.out" || true)
[[ $got -eq 7 ]] || fail "expected 7 summaries, got $got: $(cat "$WORK/many.out")"
grep -q "peer: $nobody: no tracker knows seed $nobody" "$WORK/many.log" ||
    fail "the unknown seed is not named: $(tail -n 5 "$WORK/many.log")"
grep -q '^peer: 7 of 8 files verified' "$WORK/many.log" ||
    fail "no closing count: $(tail -n 3 "$WORK/many.log")"

# Again, from the seed files, as JSON: all there already, one line each.
"$PEER" get "$WORK"/a/*.bin.seed -o "$WORK/out" --json --no-state --host 127.0.0.1 \
    >"$WORK/json.out" 2>"$WORK/json.log" || fail "get --json exited with $?"
python3 - "$WORK/json.out" "$WORK"/a/*.bin.seed <<'EOF' || fail "bad JSON lines: $(cat "$WORK/json.out")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 7, len(lines)
seeds = set()
for line in lines:
    j = json.loads(line)
    assert j["outcome"] == "already_complete" and j["verified"] is True, j
    seeds.add(j["seed"])
assert seeds == set(sys.argv[2:]), seeds
EOF

# Usage errors, each before anything is fetched.
expect_usage() {
    local pattern=$1 rc=0
    shift
    "$PEER" get "$@" -o "$WORK/never" --no-state >"$WORK/usage.out" 2>"$WORK/usage.log" || rc=$?
    [[ $rc -eq 2 ]] || fail "get $* exited with $rc, expected 2: $(cat "$WORK/usage.log")"
    grep -q -- "$pattern" "$WORK/usage.log" || fail "get $*: no '$pattern' in: $(cat "$WORK/usage.log")"
    [[ ! -e "$WORK/never" ]] || fail "get $* created its -o directory"
}
expect_usage "is given twice" "${ids[0]}" "${ids[1]}" "${ids[0]}"
cp "$WORK/a/f1.bin" "$WORK/other/f1.bin"
printf 'x' >>"$WORK/other/f1.bin"
"$PEER" make-seed "$WORK/other/f1.bin" -o "$WORK/other/f1.seed" --tracker "$TRACKER_ADDR" >/dev/null
expect_usage "both name the file f1.bin" "$WORK/a/f1.bin.seed" "$WORK/other/f1.seed"
expect_usage "--parallel" "${ids[0]}" --parallel 0

# Two ids whose seeds name one file: known only once fetched, so the second
# is refused then (named, exit 1) and the first file is left as it was.
start_serve other "$WORK/other"
other_id=$(grep -v '^tracker ' "$WORK/other/f1.seed" | sha256sum | cut -d' ' -f1)
f1_id=$(grep -v '^tracker ' "$WORK/a/f1.bin.seed" | sha256sum | cut -d' ' -f1)
rc=0
"$PEER" get "$f1_id" "$other_id" --parallel 1 --force --tracker "$TRACKER_ADDR" -o "$WORK/clash" \
    --no-state --host 127.0.0.1 >"$WORK/clash.out" 2>"$WORK/clash.log" || rc=$?
[[ $rc -eq 1 ]] || fail "two ids of one name: exit $rc, expected 1"
grep -q "peer: $other_id: the file f1.bin is $f1_id's too; not fetched" "$WORK/clash.log" ||
    fail "the clash is not named: $(tail -n 3 "$WORK/clash.log")"
cmp -s "$WORK/a/f1.bin" "$WORK/clash/f1.bin" || fail "the first f1.bin was replaced"

# SIGINT while the first files are under way (the sharer capped at 1 MiB/s):
# those stop (their .part kept), the others never begin, exit 130.
for i in 1 2 3 4 5 6; do
    head -c $((2 << 20)) /dev/urandom >"$WORK/slow/s$i.bin"
done
start_serve slow "$WORK/slow" --max-upload-rate 1M
slow_seeds=()
for i in 1 2 3 4 5 6; do
    "$PEER" make-seed "$WORK/slow/s$i.bin" -o "$WORK/s$i.seed" --tracker "$TRACKER_ADDR" >/dev/null
    slow_seeds+=("$WORK/s$i.seed")
done

# The time limit first: the two under way time out, each with its line; the
# four others never begin and are counted, not listed (exit 1).
rc=0
"$PEER" get "${slow_seeds[@]}" -o "$WORK/timed-out" --parallel 2 --timeout 1 --no-state \
    --host 127.0.0.1 >"$WORK/timeout.out" 2>"$WORK/timeout.log" || rc=$?
[[ $rc -eq 1 ]] || fail "get --timeout 1 of the slow files exited with $rc, expected 1"
grep -q '(4 not begun)' "$WORK/timeout.log" || fail "no (4 not begun): $(tail -n 3 "$WORK/timeout.log")"
timed_out=$(grep -c 'not done within the time limit' "$WORK/timeout.log" || true)
[[ $timed_out -eq 2 ]] || fail "expected 2 files timed out, got $timed_out: $(cat "$WORK/timeout.log")"
"$PEER" get "${slow_seeds[@]}" -o "$WORK/slow-out" --parallel 2 --no-state --host 127.0.0.1 \
    >"$WORK/slow.out" 2>"$WORK/slow.log" &
pid=$!
PIDS+=("$pid")
# Until a file is under way (bounded: 60 s), then a moment for its bytes.
for ((i = 0; i < 1200; i++)); do
    compgen -G "$WORK/slow-out/*.part" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "get of the slow files ended before it was interrupted"
    sleep 0.05
done
sleep 1
kill -0 "$pid" 2>/dev/null || fail "get of the slow files was not running when signalled"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 130 ]] || fail "interrupted get exited with $rc, expected 130: $(tail -n 5 "$WORK/slow.log")"
# The two under way were stopped; the four others never began (they are
# counted, not listed one by one).
not_begun=$(grep -o '([0-9]* not begun)' "$WORK/slow.log" | tr -dc 0-9)
[[ "$not_begun" == 4 ]] || fail "expected (4 not begun): $(tail -n 3 "$WORK/slow.log")"
listed=$(grep -c '^peer: .*s[0-9]\.seed: ' "$WORK/slow.log" || true)
[[ $listed -le 2 ]] || fail "$listed files have a line of their own: $(cat "$WORK/slow.log")"
begun=$(find "$WORK/slow-out" -type f | wc -l)
[[ $begun -le 2 ]] || fail "$begun files were begun with --parallel 2: $(ls "$WORK/slow-out")"
ls "$WORK/slow-out" | grep -qv '\.part$' && fail "a file was completed: $(ls "$WORK/slow-out")"
echo "ok"
