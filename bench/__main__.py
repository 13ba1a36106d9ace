"""`make bench`: chirp's main job measured on this machine, each figure beside a baseline measured in
the same run on the same data. Results go to bench/results/<timestamp>.json and .md, charts to
bench/results/<timestamp>-*.png.

    python -m bench [--tiny | --large] [--seed N] [--seconds S] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.charts import draw
from bench.harness import ensure_wrk
from bench.report import TARGETS, write_report
from bench.suite import Bench
from bench.workload import PROFILES, generate

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--tiny", action="store_true", help="200 users, 1,000 tweets: about a minute (the test suite)")
    size.add_argument("--large", action="store_true", help="100,000 users and 1,000,000 tweets")
    parser.add_argument("--seed", type=int, default=7, help="workload seed (default 7)")
    parser.add_argument("--seconds", type=int, default=None, help="duration of each timed load run (default 10)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args()
    profile = PROFILES["tiny" if args.tiny else "large" if args.large else "default"]
    seconds = args.seconds or (2 if args.tiny else 10)
    ensure_wrk()
    print(f"generating the {profile.name} workload (seed {args.seed})", flush=True)
    w = generate(profile, args.seed)
    with tempfile.TemporaryDirectory(prefix="chirp-bench-") as logdir:
        out = Bench(w, seconds, Path(logdir)).run()
    out["targets"] = TARGETS
    out["finished_at"] = datetime.now(UTC).isoformat()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    charts = draw(out, args.out, stamp)
    (args.out / f"{stamp}.json").write_text(json.dumps(out, indent=2))
    print(write_report(out, args.out / f"{stamp}.md", charts))
    print(f"results: {args.out / stamp}.json, .md and {len(charts)} charts")


if __name__ == "__main__":
    main()
