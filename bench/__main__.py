"""`make bench`: chirp's main job measured on this machine, each figure beside a baseline measured in
the same run on the same data. Results go to bench/results/<timestamp>.json and .md, charts to
bench/results/<timestamp>-*.png.

    python -m bench [--tiny | --quick | --large] [--trials N] [--seed N] [--seconds S] [--out DIR]

Every headline figure is the median of --trials trials (default 3), reported with its spread (min-max).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.charts import draw
from bench.harness import checkout_commit, ensure_wrk
from bench.report import TARGETS, write_report
from bench.suite import Bench
from bench.workload import add_profile_options, chosen_profile, generate

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_profile_options(parser, tiny="about a minute (the test suite)")
    parser.add_argument("--trials", type=int, default=None, help="trials per headline figure (default 3; --tiny 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default bench/results)")
    args = parser.parse_args()
    profile, seconds = chosen_profile(args)
    trials = args.trials or (2 if args.tiny else 3)
    if trials < 2:
        parser.error("--trials must be at least 2 (a spread needs two)")
    ensure_wrk()
    print(f"generating the {profile.name} workload (seed {args.seed}), {trials} trials per figure", flush=True)
    w = generate(profile, args.seed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chirp-bench-") as logdir:
        out = Bench(w, seconds, Path(logdir), trials=trials, results=args.out, stamp=stamp).run()
    out["targets"] = TARGETS
    out["finished_at"] = datetime.now(UTC).isoformat()
    out["commit"] = checkout_commit()
    charts = draw(out, args.out, stamp)
    (args.out / f"{stamp}.json").write_text(json.dumps(out, indent=2))
    print(write_report(out, args.out / f"{stamp}.md", charts))
    print(f"results: {args.out / stamp}.json, .md and {len(charts)} charts")


if __name__ == "__main__":
    main()
