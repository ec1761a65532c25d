#!/usr/bin/env python3
"""Fails when a doctest TEST_CASE name holds a ';'.

ctest's test discovery splits names at ';': such a case becomes two ctest
entries that each match no test, run nothing and pass. Sixteen cases went
unrun that way until this check.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
bad = []
for path in sorted(root.rglob("*.[ch]pp")):
    text = path.read_text(errors="replace")
    for m in re.finditer(r'TEST_CASE\s*\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        name = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
        if ";" in name:
            line = text.count("\n", 0, m.start()) + 1
            bad.append(f"{path}:{line}: {name}")
for b in bad:
    print(f"a ';' in a test name (ctest splits it, the case never runs): {b}")
print(f"{len(bad)} test names with ';'")
sys.exit(1 if bad else 0)
