"""High-availability figures: engine failover after kill -9, and what the kills lost.

    .venv/bin/python bench/ha.py [--kills 10] [--postgres-url URL] [--escalation] [--skip-crash]

On a fresh PostgreSQL database (created and dropped by the run), with real ``ninefold serve``
processes on loopback ports:

1. **Failover.** Three replicas; alerts arrive round robin all along (each its own group, paged
   at once to a loopback webhook receiver). Repeatedly: find the replica leading the engine
   module with the fewest measurements so far, SIGKILL it, time until a survivor reports
   leading each module it held (``/readyz`` ``engine_leader``, polled every 50 ms), start a
   replacement; until every module has ``--kills`` measurements. Median and worst per module.
2. **Lost and duplicated after the kills**: alerts acknowledged (2xx) but not stored, or stored
   twice; pages expected but not delivered, or delivered under two keys; raw re-sends under the
   same key (a lease that expired after a kill) are counted separately.
3. **Crash** (unless ``--skip-crash``): one replica killed under alert and SLO-event load and
   restarted (``tests/ha_scenario.run_crash``).
4. With ``--escalation``: the three-replica escalation scenario of ``tests/test_ha.py``
   (1,000 alerts, two kills of the pager leader, about three minutes more).

Every process is stopped by PID at the end; figures also go to ``bench/data/ha.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster import (  # noqa: E402
    MODULES,
    Receiver,
    fresh_postgres,
    leaders,
    prepare,
    serve_env,
    wait_leaders,
    wait_until,
)
from tests.ha_scenario import (  # noqa: E402
    ROUTING_CRASH,
    Firehose,
    Fleet,
    Outcome,
    api,
    check_alerts,
    check_notifications,
    kill_leader,
    run_crash,
    run_ha,
)


def log(message: str) -> None:
    """Progress on stderr, so stdout holds the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def failover(url: str, workdir: Path, kills: int) -> tuple[dict[str, list[float]], Outcome]:
    """Part 1 and 2: per-module takeover times, and the lost/duplicated check afterwards."""
    outcome = Outcome()
    token = prepare(url, workdir)
    routing = workdir / "routing.yml"
    routing.write_text(ROUTING_CRASH, encoding="utf-8")
    receiver = Receiver().start()
    env = serve_env(
        url,
        routing_file=str(routing),
        notification_lease_seconds=10,
        public_url="http://127.0.0.1:1",
    )
    fleet = Fleet(env, workdir)
    times: dict[str, list[float]] = {}
    try:
        for _ in range(3):
            fleet.add()
        wait_leaders(fleet.live())
        time.sleep(2)  # every module has run once: the leaders name them all
        times = {m: [] for m in sorted(set(MODULES) | set(leaders(fleet.live())))}
        base = fleet.live()[0].url
        channel = {"name": "room", "kind": "webhook", "target": receiver.url("/room")}
        api(base, token, "POST", "/api/v1/notification-channels", channel)
        body = {
            "name": "am",
            "kind": "alertmanager",
            "service": "api",
            "rate_limit_per_minute": 10**6,
        }
        key = str(api(base, token, "POST", "/api/v1/integrations", body)["key"])
        run = f"bench-{int(time.time())}"
        hose = Firehose(fleet, key, run, 1_000_000, workers=2).start()
        for attempt in range(kills * len(times)):
            todo = [m for m in times if len(times[m]) < kills]
            if not todo:
                break
            module = min(todo, key=lambda m: len(times[m]))
            before = len(outcome.takeovers)
            kill_leader(fleet, module, outcome)
            for m, seconds in (
                outcome.takeovers[before] if len(outcome.takeovers) > before else {}
            ).items():
                times[m].append(seconds)
            led = ", ".join(f"{m} {s:.2f}s" for m, s in outcome.takeovers[-1].items())
            log(f"kill {attempt + 1}: {led}; {hose.count()} alerts acknowledged")
        hose.stop()
        outcome.alerts_sent = hose.started
        log(f"{hose.count()} alerts acknowledged; waiting for their pages")
        n = hose.count()
        wait_until(lambda: Counter(receiver.paths().values())["/room"] >= n, 120, 0.5)
        time.sleep(12)  # a lease (10 s) taken by a killed replica expires; its re-send arrives
        check_alerts(url, run, hose.acknowledged, outcome)
        check_notifications(url, receiver, {"/room": outcome.alerts_stored}, outcome)
    finally:
        fleet.stop()
        receiver.stop()
    return times, outcome


def main() -> int:
    """Run the parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "NINEFOLD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--escalation", action="store_true", help="also run the 1,000-alert test")
    parser.add_argument("--skip-crash", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="ninefold-ha-") as tmp:
        work = Path(tmp)
        with fresh_postgres(args.postgres_url, prefix="ninefold_bench_ha") as url:
            (work / "failover").mkdir()
            times, outcome = failover(url, work / "failover", args.kills)
        results["failover_seconds"] = times
        results["failover"] = asdict(outcome)
        outcomes = {"failover": outcome}
        if not args.skip_crash:
            with fresh_postgres(args.postgres_url, prefix="ninefold_bench_crash") as url:
                (work / "crash").mkdir()
                outcomes["crash"] = run_crash(url, work / "crash", log=log)
            results["crash"] = asdict(outcomes["crash"])
        if args.escalation:
            with fresh_postgres(args.postgres_url, prefix="ninefold_bench_esc") as url:
                (work / "escalation").mkdir()
                outcomes["escalation"] = run_ha(url, work / "escalation", log=log)
            results["escalation"] = asdict(outcomes["escalation"])

    print(f"\nEngine failover after kill -9 (3 replicas on PostgreSQL, {args.kills} kills each)")
    print(f"{'module':<20} {'n':>3} {'median s':>9} {'worst s':>8}")
    for module, values in times.items():
        if values:
            print(
                f"{module:<20} {len(values):>3} {statistics.median(values):>9.2f} {max(values):>8.2f}"
            )
        else:
            print(f"{module:<20} {0:>3} {'-':>9} {'-':>8}")
    print("\nAfter the kill tests")
    print(
        f"{'run':<11} {'kills':>5} {'alerts ack':>10} {'lost':>5} {'dup':>4} "
        f"{'pages':>6} {'lost':>5} {'dup':>4} {'re-sent':>7} {'batches':>7} {'lost':>5}"
    )
    bad = False
    for name, o in outcomes.items():
        print(
            f"{name:<11} {o.kills:>5} {o.alerts_acknowledged:>10} {o.alerts_lost:>5} "
            f"{o.alerts_duplicated:>4} {o.notifications_distinct:>6} {o.notifications_lost:>5} "
            f"{o.notifications_duplicated:>4} {o.notifications_raw - o.notifications_distinct:>7} "
            f"{o.batches_acknowledged:>7} {o.batches_lost:>5}"
        )
        for problem in o.problems:
            bad = True
            print(f"  PROBLEM ({name}): {problem}")
    lost = sum(o.alerts_lost + o.notifications_lost + o.batches_lost for o in outcomes.values())
    dup = sum(o.alerts_duplicated + o.notifications_duplicated for o in outcomes.values())
    worst = max((max(v) for v in times.values() if v), default=float("inf"))
    print(f"\nlost: {lost}   duplicated: {dup}   worst takeover: {worst:.2f} s (limit 10 s)")
    print(f"took {time.monotonic() - started:.0f} s")
    out = ROOT / "bench" / "data"
    out.mkdir(exist_ok=True)
    (out / "ha.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 1 if bad or lost or dup or worst > 10 else 0


if __name__ == "__main__":
    sys.exit(main())
