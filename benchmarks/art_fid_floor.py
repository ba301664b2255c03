"""The art64 data set's own FID/KID floor: one random half of the real images against the other.

    python benchmarks/art_fid_floor.py --data-root ../shared/data            # inception-tf, all
    python benchmarks/art_fid_floor.py --feature pixels8 --n 400 --seeds 0 1 # a cheap check

A generator compared with N/2 real images cannot expect a much lower FID than this at that
sample size (FID is biased upwards for small sets, so the floor depends on N). The real
features are cached (see ``ganzoo.metrics.feature_cache.real_features``), so further seeds
cost little.
Prints JSON: one result per seed with its protocol, their mean, and the wall time.
Inception on a CPU costs about 0.3-0.7 s per image: the whole set (2,781 images) takes
15-30 minutes the first time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from ganzoo.data import load_dataset
from ganzoo.errors import GanzooError
from ganzoo.metrics.fid import fid_floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="art64")
    parser.add_argument("--split", default="train")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--feature", default="inception-tf")
    parser.add_argument("--n", type=int, default=None, help="images to split (default all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--metrics", default="fid,kid")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        data = load_dataset(args.dataset, args.split, root=args.data_root)
        runs = [
            fid_floor(
                data,
                feature=args.feature,
                seed=seed,
                n=args.n,
                split=args.split,
                metrics=args.metrics,
                cache_dir=args.cache_dir,
                device=args.device,
                log=lambda line: print(line, file=sys.stderr),
            )
            for seed in args.seeds
        ]
    except GanzooError as exc:
        raise SystemExit(f"error: {exc}") from None
    summary = {
        key: statistics.fmean(run[key] for run in runs) for key in ("fid", "kid") if key in runs[0]
    }
    print(
        json.dumps(
            {
                "benchmark": "art_fid_floor",
                "runs": runs,
                "mean_over_seeds": summary,
                "seeds": args.seeds,
                "wall_s": round(time.perf_counter() - start, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
