"""Small helpers shared by the benchmark scripts (standard library only)."""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
PEER = os.path.join(BUILD, "peer", "peer")
TRACKER = os.path.join(BUILD, "tracker", "tracker")


def ensure_built(*setup_args):
    """Runs scripts/setup and scripts/build, as the README commands do."""
    subprocess.run([os.path.join(ROOT, "scripts", "setup"), *setup_args], check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "build")], check=True,
                   stdout=subprocess.DEVNULL)


def timed(argv, **kwargs):
    """Runs argv to completion; returns wall seconds. Fails loudly on error."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def make_random_file(path, size):
    """Writes `size` random bytes (reused if a file of that size is already there)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 64 << 20)
            out.write(os.urandom(n))
            left -= n


def warm(path):
    """Reads a file once so that it sits in the page cache."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def median(xs):
    return statistics.median(xs)


def say(*args):
    print(*args, flush=True)
    sys.stdout.flush()
