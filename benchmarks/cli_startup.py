"""Wall time of `ganzoo sample NAME -n 64` against a bare `python -c 'import torch'`.

    python benchmarks/cli_startup.py sgan-mnist-100 --repeats 7

The two commands alternate so that machine load hits both alike; prints JSON with the
median of each and their difference.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"{' '.join(cmd)} failed: {last}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", nargs="?", default="sgan-mnist-100")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    # The script of this interpreter's environment, so both commands use the same Python.
    beside = Path(sys.executable).parent / "ganzoo"
    ganzoo = str(beside) if beside.exists() else shutil.which("ganzoo") or "ganzoo"
    out = Path(tempfile.mkdtemp()) / "digits.png"
    commands = {
        "import_torch": [sys.executable, "-c", "import torch"],
        "ganzoo_sample": [
            *(ganzoo, "sample", args.name, "-n", "64", "--out", str(out)),
            *("--quiet", "--overwrite"),  # each repeat replaces the grid of the one before
        ],
        "ganzoo_help": [ganzoo, "--help"],
    }
    for cmd in commands.values():  # warm the file cache
        timed(cmd)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.repeats):
        for key, cmd in commands.items():
            times[key].append(timed(cmd))
    medians = {k: round(statistics.median(v), 3) for k, v in times.items()}
    medians["sample_minus_import"] = round(medians["ganzoo_sample"] - medians["import_torch"], 3)
    print(json.dumps({"name": args.name, "repeats": args.repeats, "median_s": medians}))


if __name__ == "__main__":
    main()
