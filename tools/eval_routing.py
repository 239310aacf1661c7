"""Offline evaluation of the routing model on the shared ServiceNow incident log.

Replays every case in time order with `RollingRouter` (weekly retrains in virtual time,
each case decided at its open time with the latest model) and scores the later 30% of the
cases by opened_at against their final group, next to people's first assignment. Prints a
summary and writes JSON. Run from the repository root:

    .venv/bin/python tools/eval_routing.py [--log PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from baton.learn.cases import Case, cases_from_rows
from baton.learn.metrics import (
    best_at_coverage,
    brier,
    coverage_curve,
    expected_calibration_error,
    reliability,
)
from baton.learn.routing import Decision, RollingRouter

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT.parent / "shared/data/incident_event_log.csv.gz"
THRESHOLDS = [round(0.5 + 0.01 * k, 2) for k in range(50)]


def load(path: Path) -> tuple[list[Case], Counter[str]]:
    """Fold the gzipped log into cases."""
    skipped: Counter[str] = Counter()
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        return cases_from_rows(csv.DictReader(handle), skipped=skipped), skipped


def _hours(case: Case) -> float:
    reached = case.reached_final_at or case.opened_at
    return (reached - case.opened_at).total_seconds() / 3600


def evaluate(cases: list[Case], decisions: list[Decision], test_share: float) -> dict[str, Any]:
    """Score the later `test_share` of the cases by open time."""
    by_id = {case.id: case for case in cases}
    ordered = sorted(decisions, key=lambda d: (d.opened_at, d.case_id))
    test = ordered[len(ordered) - math.ceil(test_share * len(ordered)):]
    truth = [by_id[d.case_id] for d in test]
    right = [d.group == c.final_group for d, c in zip(test, truth, strict=True)]
    human = [c.first_group == c.final_group for c in truth]
    conf = [d.confidence for d in test]
    curve = coverage_curve(conf, right, human, THRESHOLDS)
    best = best_at_coverage(curve, 0.5)
    table = reliability(conf, right)
    result: dict[str, Any] = {
        "test_cases": len(test),
        "test_from": test[0].opened_at.isoformat(),
        "undecided_cases": sum(d.group is None for d in test),
        "engine_accuracy": statistics.fmean(right),
        "human_first_accuracy": statistics.fmean(human),
        "coverage_curve": [asdict(p) for p in curve],
        "best_at_50pct_coverage": None if best is None else asdict(best),
        "brier": brier(conf, right),
        "expected_calibration_error": expected_calibration_error(table),
        "reliability": [asdict(b) for b in table],
    }
    if best is not None:
        chosen = [k for k, d in enumerate(test) if d.confidence >= best.threshold]
        saved = [_hours(truth[k]) for k in chosen if right[k] and not human[k]]
        result["at_best_threshold"] = {
            "engine_right_people_wrong": len(saved),
            "engine_wrong_people_right": sum(1 for k in chosen if human[k] and not right[k]),
            "hours_to_final_group_people_took_there": {
                "median": statistics.median(saved) if saved else 0.0,
                "total": sum(saved)},
        }
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=LOG)
    parser.add_argument("--json", type=Path, default=ROOT / "artifacts/eval_routing.json")
    parser.add_argument("--test-share", type=float, default=0.3)
    args = parser.parse_args(argv)
    if not args.log.exists():
        print(f"no log at {args.log}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    cases, skipped = load(args.log)
    loaded = time.perf_counter()
    router = RollingRouter()
    cpu = time.process_time()
    decisions = router.replay(cases)
    replayed, cpu = time.perf_counter(), time.process_time() - cpu
    result = evaluate(cases, decisions, args.test_share)
    result.update({
        "cases": len(cases),
        "skipped": dict(skipped),
        "fits": [{**asdict(f), "now": f.now.isoformat()} for f in router.fits],
        "seconds": {"load_and_fold": loaded - started, "replay": replayed - loaded,
                    "replay_cpu": cpu, "fitting": sum(f.seconds for f in router.fits)},
    })
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _print(result)
    print(f"wrote {args.json}")
    return 0


def _print(r: dict[str, Any]) -> None:
    secs = r["seconds"]
    print(f"cases {r['cases']} (skipped {r['skipped']}); test: later {r['test_cases']} "
          f"cases from {r['test_from']}")
    print(f"load+fold {secs['load_and_fold']:.1f}s, replay {secs['replay']:.1f}s wall, "
          f"{secs['replay_cpu']:.1f}s CPU ({len(r['fits'])} fits, {secs['fitting']:.1f}s)")
    print(f"engine accuracy {r['engine_accuracy']:.3f}   people first assignment "
          f"{r['human_first_accuracy']:.3f}")
    best = r["best_at_50pct_coverage"]
    if best:
        print(f"best at >=50% coverage: threshold {best['threshold']:.2f} coverage "
              f"{best['coverage']:.3f} engine {best['accuracy']:.3f} people on the same "
              f"cases {best['human_accuracy']:.3f}")
    print(f"Brier {r['brier']:.4f}  ECE {r['expected_calibration_error']:.4f}")
    print("threshold coverage accuracy people")
    for p in r["coverage_curve"][::5]:
        print(f"  {p['threshold']:.2f}   {p['coverage']:.3f}    {p['accuracy']:.3f}"
              f"   {p['human_accuracy']:.3f}")
    print("reliability: confidence bin, cases, mean confidence, accuracy")
    for b in r["reliability"]:
        print(f"  [{b['low']:.1f},{b['high']:.1f})  {b['cases']:5d}  "
              f"{b['mean_confidence']:.3f}  {b['accuracy']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
