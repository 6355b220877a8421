"""Kill-9 scenarios with real ``ninefold serve`` processes, shared by the tests and bench/ha.py.

``run_ha``: three replicas on one fresh PostgreSQL database, an escalation policy of two levels
(the schedule's person at once, ``bob`` after one minute), every alert its own group
(``group_by: ['...']``, ``group_wait: 0s``). Alerts are fired round robin over the replicas (a
failed request is retried on the next replica, as a load balancer would); the replica leading
the ``pager`` module is killed with SIGKILL while alerts arrive and again while the second level
is being paged; a replacement replica is started after each kill. Then every alert must be
stored once and every page (the room's group notification, alice's level-1 page, bob's level-2
page) delivered to the loopback receiver under one idempotency key.

``run_crash``: one replica (SQLite or PostgreSQL) killed with SIGKILL while clients push
alerts, SLO event batches and incident updates (timeline notes, published and unpublished
stakeholder updates on one declared incident) at load, then restarted on the same database:
everything that got a 2xx must be there, once, and every alert's page delivered; every
acknowledged published update is on the public status JSON. Incident notes and updates carry no
idempotency key, so a request whose answer the kill swallowed is not retried (a retry would post
a second copy): it is "in doubt" and may be stored at most once.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from ninefold.alert.models import Alert
from ninefold.db.engine import make_engine
from ninefold.notification.models import OutboxItem
from ninefold.oncall.models import EscalationRow
from ninefold.slo.models import SloBucket, SloEventBatch
from tests.background import BackgroundLoop
from tests.cluster import (
    Replica,
    alert_body,
    api,
    free_port,
    leaders,
    prepare,
    serve_env,
    stop_all,
    takeover_times,
    wait_leaders,
    wait_until,
)
from tests.receiver import WebhookReceiver

# Only the scenario's alerts page; others (SLO burn or no-data alerts of the pushed events,
# channel-health alerts) go to a receiver without channels, so the counts are exact.
ROUTING = """\
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['alertname="HaTest"']
      receiver: web-oncall
receivers:
  - name: sink
  - name: web-oncall
    channels: [room]
    escalation_policy: web
"""

_ESC = re.compile(r"^esc-(\d+):(\d+):([^:]+):(\d+)$")
_GROUP = re.compile(r"^group-(\d+):(\d+):(.+)$")


@dataclass
class Outcome:
    """What a scenario observed; ``problems`` must be empty."""

    alerts_sent: int = 0
    alerts_acknowledged: int = 0
    alerts_stored: int = 0
    alerts_lost: int = 0
    alerts_duplicated: int = 0
    notifications_expected: int = 0
    notifications_distinct: int = 0
    notifications_raw: int = 0
    notifications_lost: int = 0
    notifications_duplicated: int = 0
    batches_acknowledged: int = 0
    batches_lost: int = 0
    events_total_expected: float = 0.0
    events_total_stored: float = 0.0
    updates_acknowledged: int = 0
    updates_in_doubt: int = 0
    updates_lost: int = 0
    updates_duplicated: int = 0
    takeovers: list[dict[str, float]] = field(default_factory=list)
    kills: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One paragraph for logs and assertion messages."""
        return (
            f"alerts: {self.alerts_acknowledged}/{self.alerts_sent} acknowledged, "
            f"{self.alerts_stored} stored, {self.alerts_lost} lost, {self.alerts_duplicated} "
            f"duplicated; notifications: {self.notifications_expected} expected, "
            f"{self.notifications_distinct} distinct keys in {self.notifications_raw} "
            f"deliveries, {self.notifications_lost} lost, {self.notifications_duplicated} "
            f"duplicated; event batches: {self.batches_acknowledged} acknowledged, "
            f"{self.batches_lost} lost, totals {self.events_total_stored:g}/"
            f"{self.events_total_expected:g}; incident updates: {self.updates_acknowledged} "
            f"acknowledged, {self.updates_in_doubt} in doubt, {self.updates_lost} lost, "
            f"{self.updates_duplicated} duplicated; kills {self.kills}, takeovers {self.takeovers}; "
            f"{self.seconds:.0f} s; problems: {self.problems or 'none'}"
        )


class Fleet:
    """The replicas of a scenario; new ones get a fresh port and the same settings."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.replicas: list[Replica] = []
        self._lock = threading.Lock()
        self._names = itertools.count(1)

    def add(self, port: int | None = None) -> Replica:
        """Start one more replica and wait for it."""
        name = f"replica-{next(self._names)}"
        replica = Replica(name, port or free_port(), self.env, self.logs / f"{name}.log").start()
        with self._lock:
            self.replicas.append(replica)
        replica.wait_ready(timeout=90)
        return replica

    def live(self) -> list[Replica]:
        """Replicas whose process runs."""
        with self._lock:
            return [r for r in self.replicas if r.alive()]

    def stop(self) -> None:
        """Stop every replica this fleet started, by PID."""
        with self._lock:
            stop_all(self.replicas)


class Firehose(BackgroundLoop):
    """Sends alerts ``0..n-1`` round robin over live replicas from a few threads; a failed
    request (refused, reset, 5xx) is retried on the next replica until it gets a 2xx. ``stop``
    sends no new alerts and waits for those in flight to be acknowledged."""

    def __init__(self, fleet: Fleet, key: str, run: str, n: int, workers: int = 6) -> None:
        self.fleet, self.key, self.run, self.n, self.workers = fleet, key, run, n, workers
        self.acknowledged: set[int] = set()
        self.failures = 0
        self.started = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _send(self, i: int, client: httpx.Client) -> None:
        deadline = time.monotonic() + 120
        attempt = 0
        while time.monotonic() < deadline:
            live = self.fleet.live()
            if live:
                replica = live[(i + attempt) % len(live)]
                try:
                    resp = client.post(
                        f"{replica.url}/api/v2/alerts",
                        json=alert_body(i, self.run),
                        headers={"Authorization": f"Bearer {self.key}"},
                    )
                    if resp.status_code < 300:
                        with self._lock:
                            self.acknowledged.add(i)
                        return
                except httpx.HTTPError:
                    pass
                with self._lock:
                    self.failures += 1
            attempt += 1
            time.sleep(0.2)

    def _loop(self) -> None:
        local = threading.local()

        def send(i: int) -> None:
            if self._stop.is_set():
                return  # not sent at all; an alert already sent is retried until acknowledged
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=30)
            with self._lock:
                self.started += 1
            self._send(i, local.client)

        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(send, range(self.n)))

    def count(self) -> int:
        """Alerts acknowledged so far."""
        with self._lock:
            return len(self.acknowledged)


def kill_leader(fleet: Fleet, module: str, outcome: Outcome, replace: bool = True) -> float:
    """SIGKILL the replica leading ``module``; record how long until a survivor leads each of
    its modules; start a replacement. Returns the takeover time of ``module``."""
    led = wait_leaders(fleet.live(), [module])
    victim = led.get(module)
    if victim is None:
        outcome.problems.append(f"nobody leads {module} before kill {outcome.kills + 1}")
        return float("inf")
    modules = victim.leads()
    victim.kill9()
    killed_at = time.monotonic()
    outcome.kills += 1
    survivors = fleet.live()
    times = takeover_times(survivors, modules, killed_at, timeout=30)
    outcome.takeovers.append(times)
    for m in modules:
        if m not in times:
            outcome.problems.append(f"no survivor took {m} over within 30 s")
    if replace:
        fleet.add()
    return times.get(module, float("inf"))


def setup_escalation(base: str, token: str, receiver: WebhookReceiver) -> str:
    """Channels, rules, schedule, a two-level policy and an integration; returns its key."""
    for channel in ("room", "alice-app", "bob-app"):
        body = {"name": channel, "kind": "webhook", "target": receiver.url(f"/{channel}")}
        api(base, token, "POST", "/api/v1/notification-channels", body)
    for user in ("alice", "bob"):
        rules = [{"after": "0m", "channel": f"{user}-app"}]
        api(base, token, "PUT", f"/api/v1/users/{user}/notification-rules", rules)
    schedule = {
        "team": "web",
        "time_zone": "UTC",
        "layers": [
            {
                "name": "weekly",
                "rotation": "weekly",
                "start": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                "participants": ["alice"],
            }
        ],
    }
    api(base, token, "PUT", "/api/v1/schedules/primary", schedule)
    policy = {
        "team": "web",
        "repeat": 0,
        "levels": [
            {"delay": "1m", "targets": [{"schedule": "primary"}]},
            {"delay": "1m", "targets": [{"user": "bob"}]},
        ],
    }
    api(base, token, "PUT", "/api/v1/escalation-policies/web", policy)
    body = {"name": "am", "kind": "alertmanager", "service": "api", "rate_limit_per_minute": 10**6}
    return str(api(base, token, "POST", "/api/v1/integrations", body)["key"])


def check_alerts(url: str, run: str, acknowledged: set[int], outcome: Outcome) -> None:
    """Every acknowledged alert stored exactly once."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            labels = conn.execute(select(Alert.labels)).scalars().all()
    finally:
        engine.dispose()
    per_n = Counter(int(lb["n"]) for lb in labels if lb.get("run") == run)
    outcome.alerts_acknowledged = len(acknowledged)
    outcome.alerts_stored = len(per_n)
    outcome.alerts_lost = len(acknowledged - set(per_n))
    outcome.alerts_duplicated = sum(1 for c in per_n.values() if c > 1)
    if outcome.alerts_lost or outcome.alerts_duplicated:
        outcome.problems.append("acknowledged alerts lost or stored twice")


def check_notifications(
    url: str, receiver: WebhookReceiver, expected: dict[str, int], outcome: Outcome
) -> None:
    """Each outbox row sent, its key delivered; per group one room notification, per
    escalation one page per person; ``expected`` is the number of distinct keys per path."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxItem.idempotency_key, OutboxItem.status)).all()
    finally:
        engine.dispose()
    counts = receiver.counts()
    paths = receiver.paths()
    outcome.notifications_raw = sum(counts.values())
    outcome.notifications_distinct = len(counts)
    outcome.notifications_expected = sum(expected.values())
    unsent = [key for key, status in rows if status != "sent"]
    if unsent:
        outcome.problems.append(f"{len(unsent)} outbox rows not sent, e.g. {unsent[:3]}")
    missing = {key for key, _ in rows} - set(counts)
    by_path = Counter(paths.values())
    lost = sum(max(0, n - by_path.get(path, 0)) for path, n in expected.items())
    outcome.notifications_lost = max(lost, len(missing))
    # logical duplicates: a second key for the same group notification or the same person's
    # page in the same escalation (a raw re-send under the same key is deduplicable)
    logical: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for key in counts:
        if m := _ESC.match(key):
            logical[("esc", m.group(1), m.group(3))].add(key)
        elif m := _GROUP.match(key):
            logical[("group", m.group(1), m.group(3))].add(key)
    outcome.notifications_duplicated = sum(len(keys) - 1 for keys in logical.values())
    extra = {path: by_path[path] - n for path, n in expected.items() if by_path[path] > n}
    if extra:
        outcome.problems.append(f"more distinct notifications than expected: {extra}")
        outcome.notifications_duplicated = max(outcome.notifications_duplicated, *extra.values())
    if outcome.notifications_lost:
        outcome.problems.append(
            f"{outcome.notifications_lost} notifications lost (by path {dict(by_path)})"
        )
    if outcome.notifications_duplicated:
        outcome.problems.append(f"{outcome.notifications_duplicated} duplicated notifications")


def escalation_count(url: str) -> int:
    """How many escalations exist."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EscalationRow)).scalar_one())
    finally:
        engine.dispose()


def run_ha(
    url: str,
    workdir: Path,
    *,
    alerts: int = 1000,
    lease_seconds: int = 10,
    log: Callable[[str], None] = print,
) -> Outcome:
    """The three-replica scenario on the fresh PostgreSQL database ``url`` (see the module)."""
    started = time.monotonic()
    outcome = Outcome(alerts_sent=alerts)
    token = prepare(url, workdir)
    routing = workdir / "routing.yml"
    routing.write_text(ROUTING, encoding="utf-8")
    receiver = WebhookReceiver().start()
    env = serve_env(
        url,
        routing_file=str(routing),
        notification_lease_seconds=lease_seconds,
        public_url="http://127.0.0.1:1",
    )
    fleet = Fleet(env, workdir)
    try:
        for _ in range(3):
            fleet.add()
        if "pager" not in wait_leaders(fleet.live(), ["pager"]):
            outcome.problems.append("no replica leads the pager module")
            return outcome
        key = setup_escalation(fleet.live()[0].url, token, receiver)
        run = f"ha-{int(time.time())}"
        hose = Firehose(fleet, key, run, alerts).start()
        wait_until(lambda: hose.count() >= alerts // 2, timeout=300, step=0.05)
        log(f"{hose.count()} alerts acknowledged: killing the pager leader")
        took = kill_leader(fleet, "pager", outcome)
        log(f"pager taken over in {took:.2f} s")
        hose.join(timeout=300)
        log(f"all alerts sent ({hose.failures} failed requests retried)")
        # the second level pages bob one minute after each alert: kill the leader meanwhile
        wait_until(
            lambda: Counter(receiver.paths().values()).get("/bob-app", 0) >= alerts // 4,
            timeout=180,
            step=0.05,
        )
        log(
            f"{Counter(receiver.paths().values()).get('/bob-app', 0)} level-2 pages delivered: "
            "killing the pager leader"
        )
        took = kill_leader(fleet, "pager", outcome)
        log(f"pager taken over in {took:.2f} s")
        n = len(hose.acknowledged)
        wait_until(
            lambda: all(
                Counter(receiver.paths().values()).get(p, 0) >= n
                for p in ("/room", "/alice-app", "/bob-app")
            ),
            timeout=240,
            step=0.5,
        )
        time.sleep(2)  # anything more (a duplicate) would arrive now
        check_alerts(url, run, hose.acknowledged, outcome)
        stored = outcome.alerts_stored
        expected = {"/room": stored, "/alice-app": stored, "/bob-app": stored}
        check_notifications(url, receiver, expected, outcome)
        escalations = escalation_count(url)
        if escalations != stored:
            outcome.problems.append(f"{escalations} escalations for {stored} alerts")
        for times in outcome.takeovers:
            if times.get("pager", float("inf")) > 10:
                outcome.problems.append(f"pager takeover took {times.get('pager')} s")
        if leaders(fleet.live()).get("pager") is None:
            outcome.problems.append("nobody leads the pager module at the end")
    except Exception as exc:  # the replicas' logs explain most failures
        tails = "\n".join(f"--- {r.name}\n{r.tail(20)}" for r in fleet.replicas)
        outcome.problems.append(f"{type(exc).__name__}: {exc}\n{tails}")
    finally:
        fleet.stop()
        receiver.stop()
        outcome.seconds = time.monotonic() - started
    return outcome


class EventPusher(BackgroundLoop):
    """Pushes SLO event batches (unique ids, 10 one-minute events each) until stopped; a
    failed push is retried with the same batch id, on the replica that is up again. ``stop``
    waits for the batch in flight to be acknowledged."""

    def __init__(self, fleet: Fleet, token: str, slo: str) -> None:
        self.fleet, self.token, self.slo = fleet, token, slo
        self.acknowledged: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
        with httpx.Client(timeout=30) as client:
            for i in itertools.count():
                if self._stop.is_set():
                    return
                batch_id = f"batch-{i}"
                events = [
                    {
                        "timestamp": (base + timedelta(minutes=(i * 10 + j) % 110)).isoformat(),
                        "good": 9,
                        "total": 10,
                    }
                    for j in range(10)
                ]
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    live = self.fleet.live()
                    if live:
                        try:
                            resp = client.post(
                                f"{live[i % len(live)].url}/api/v1/slos/{self.slo}/events",
                                json={"batch_id": batch_id, "events": events},
                                headers={"Authorization": f"Bearer {self.token}"},
                            )
                            if resp.status_code < 300:
                                self.acknowledged[batch_id] = 100.0
                                break
                        except httpx.HTTPError:
                            pass
                    time.sleep(0.2)


def check_events(url: str, pusher: EventPusher, outcome: Outcome) -> None:
    """Every acknowledged batch remembered, and the stored totals are their sum (none twice)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ids = set(conn.execute(select(SloEventBatch.batch_id)).scalars().all())
            total = conn.execute(
                select(func.coalesce(func.sum(SloBucket.total), 0)).where(SloBucket.res == 60)
            ).scalar_one()
    finally:
        engine.dispose()
    acknowledged = dict(pusher.acknowledged)
    outcome.batches_acknowledged = len(acknowledged)
    outcome.batches_lost = len(set(acknowledged) - ids)
    # a batch that was stored but whose answer was lost to the kill is stored once too
    outcome.events_total_expected = 100.0 * len(ids)
    outcome.events_total_stored = float(total)
    if outcome.batches_lost:
        outcome.problems.append(f"{outcome.batches_lost} acknowledged event batches lost")
    if abs(outcome.events_total_stored - outcome.events_total_expected) > 1e-6:
        outcome.problems.append(
            f"stored event totals {total} != 100 x {len(ids)} stored batches (counted twice?)"
        )


class IncidentUpdater(BackgroundLoop):
    """Declares an incident, then posts to it until stopped, one request at a time: timeline notes
    and stakeholder updates (published and not, public status cycling, no channels), each with a
    unique text. A refused connection is retried with the same text on the replica that is up
    again; a request that may have reached the server but got no 2xx (reset, timeout, 5xx) is
    not retried, since a retry would post a second copy: its text is "in doubt"."""

    STATUSES = ("investigating", "identified", "monitoring")

    def __init__(self, fleet: Fleet, token: str, pause: float = 0.05) -> None:
        self.fleet, self.token, self.pause = fleet, token, pause
        self.incident_id = 0
        self.acknowledged: dict[str, str] = {}  # text -> "note", "published" or "unpublished"
        self.in_doubt: dict[str, str] = {}
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def declare(self, base: str, run: str) -> int:
        """Declare the incident the updates go to."""
        body = {"title": f"Crash test {run}", "severity": "SEV2", "services": ["api"]}
        self.incident_id = int(api(base, self.token, "POST", "/api/v1/incidents", body)["id"])
        return self.incident_id

    def _request(self, i: int) -> tuple[str, str, dict[str, object]]:
        kind = ("note", "published", "unpublished")[i % 3]
        text = f"update-{i}-{kind}"
        path = f"/api/v1/incidents/{self.incident_id}/"
        if kind == "note":
            return kind, path + "timeline", {"message": text}
        body: dict[str, object] = {
            "public_status": self.STATUSES[(i // 3) % len(self.STATUSES)],
            "message": text,
            "channels": [],
            "publish": kind == "published",
        }
        return kind, path + "updates", body

    def _loop(self) -> None:
        with httpx.Client(timeout=30) as client:
            for i in itertools.count():
                if self._stop.is_set():
                    return
                kind, path, body = self._request(i)
                text = str(body["message"])
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    live = self.fleet.live()
                    if not live:
                        time.sleep(0.2)
                        continue
                    try:
                        resp = client.post(
                            f"{live[0].url}{path}",
                            json=body,
                            headers={"Authorization": f"Bearer {self.token}"},
                        )
                    except httpx.ConnectError:  # never reached a server: same text again
                        time.sleep(0.2)
                        continue
                    except httpx.HTTPError:
                        with self._lock:
                            self.in_doubt[text] = kind
                        break
                    with self._lock:
                        if resp.status_code < 300:
                            self.acknowledged[text] = kind
                        elif resp.status_code >= 500:
                            self.in_doubt[text] = kind
                        else:
                            self.rejected.append(f"{text}: {resp.status_code} {resp.text[:200]}")
                    break
                time.sleep(self.pause)

    def count(self) -> int:
        """Requests acknowledged so far."""
        with self._lock:
            return len(self.acknowledged)


def check_incident_updates(
    base: str, token: str, updater: IncidentUpdater, outcome: Outcome
) -> None:
    """Read the incident back through the API: every acknowledged note and stakeholder update is
    there once (an update with its one timeline entry), nothing in doubt is there twice, and the
    public status JSON shows exactly the stored published updates."""
    path = f"/api/v1/incidents/{updater.incident_id}"
    timeline = api(base, token, "GET", f"{path}/timeline")
    updates = api(base, token, "GET", f"{path}/updates")
    notes = Counter(e["message"] for e in timeline if e["kind"] == "note")
    stored = Counter(u["message"] for u in updates)
    entries = Counter(e["details"].get("update_id") for e in timeline if e["kind"] == "update")
    acknowledged, in_doubt = dict(updater.acknowledged), dict(updater.in_doubt)
    outcome.updates_acknowledged = len(acknowledged)
    outcome.updates_in_doubt = len(in_doubt)
    outcome.updates_lost = sum(
        1 for text, kind in acknowledged.items() if (notes if kind == "note" else stored)[text] == 0
    )
    ours = set(acknowledged) | set(in_doubt)
    outcome.updates_duplicated = sum(
        1 for text, n in (notes + stored).items() if n > 1 and text in ours
    )
    if outcome.updates_lost or outcome.updates_duplicated:
        outcome.problems.append("acknowledged incident updates lost or stored twice")
    if updater.rejected:
        outcome.problems.append(f"incident updates rejected: {updater.rejected[:3]}")
    strays = set(notes + stored) - ours
    if strays:
        outcome.problems.append(f"incident texts nobody posted: {sorted(strays)[:3]}")
    unlogged = [u["message"] for u in updates if entries[u["id"]] != 1]
    if unlogged:
        outcome.problems.append(
            f"{len(unlogged)} stakeholder updates without exactly one timeline entry, "
            f"e.g. {unlogged[:3]}"
        )
    resp = httpx.get(f"{base}/status/api/v2/incidents.json", timeout=30)
    public = [i for i in resp.json()["incidents"] if i["id"] == str(updater.incident_id)]
    shown = Counter(u["body"] for i in public for u in i["incident_updates"])
    published = Counter(u["message"] for u in updates if u["published"])
    if shown != published:
        outcome.problems.append(
            f"status page shows {sum(shown.values())} updates, {sum(published.values())} "
            f"published are stored (missing {sorted(published - shown)[:3]}, "
            f"extra {sorted(shown - published)[:3]})"
        )


ROUTING_CRASH = """\
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['alertname="HaTest"']
      receiver: room
receivers:
  - name: sink
  - name: room
    channels: [room]
"""


def run_crash(
    url: str,
    workdir: Path,
    *,
    alerts: int = 400,
    kill_after: int = 150,
    lease_seconds: int = 3,
    log: Callable[[str], None] = print,
) -> Outcome:
    """One replica killed with SIGKILL under alert and event load, restarted on the same port."""
    started = time.monotonic()
    outcome = Outcome(alerts_sent=alerts)
    token = prepare(url, workdir)
    routing = workdir / "routing.yml"
    routing.write_text(ROUTING_CRASH, encoding="utf-8")
    receiver = WebhookReceiver().start()
    env = serve_env(
        url,
        routing_file=str(routing),
        notification_lease_seconds=lease_seconds,
        public_url="http://127.0.0.1:1",
    )
    fleet = Fleet(env, workdir)
    try:
        first = fleet.add()
        base = first.url
        api(
            base,
            token,
            "POST",
            "/api/v1/notification-channels",
            {"name": "room", "kind": "webhook", "target": receiver.url("/room")},
        )
        body = {
            "name": "am",
            "kind": "alertmanager",
            "service": "api",
            "rate_limit_per_minute": 10**6,
        }
        key = str(api(base, token, "POST", "/api/v1/integrations", body)["key"])
        run = f"crash-{int(time.time())}"
        updater = IncidentUpdater(fleet, token)
        updater.declare(base, run)
        pusher = EventPusher(fleet, token, "api-availability").start()
        updater.start()
        hose = Firehose(fleet, key, run, alerts, workers=4).start()
        wait_until(lambda: hose.count() >= kill_after, timeout=300, step=0.02)
        log(
            f"{hose.count()} alerts, {len(pusher.acknowledged)} batches and {updater.count()} "
            "incident updates acknowledged: kill -9"
        )
        first.kill9()
        outcome.kills = 1
        time.sleep(1.0)  # clients see refused connections meanwhile
        second = fleet.add(port=first.port)
        after_restart = updater.count()
        hose.join(timeout=300)
        wait_until(lambda: updater.count() > after_restart, timeout=30, step=0.05)
        pusher.stop()
        updater.stop()
        log(f"all sent ({hose.failures} failed alert requests retried)")
        stored = len(hose.acknowledged)
        wait_until(
            lambda: Counter(receiver.paths().values()).get("/room", 0) >= stored,
            timeout=120,
            step=0.5,
        )
        time.sleep(lease_seconds + 2)  # a re-send of an expired lease would arrive by now
        check_alerts(url, run, hose.acknowledged, outcome)
        check_notifications(url, receiver, {"/room": outcome.alerts_stored}, outcome)
        check_events(url, pusher, outcome)
        check_incident_updates(second.url, token, updater, outcome)
        if updater.count() <= after_restart:
            outcome.problems.append("no incident update acknowledged after the restart")
    except Exception as exc:
        tails = "\n".join(f"--- {r.name}\n{r.tail(20)}" for r in fleet.replicas)
        outcome.problems.append(f"{type(exc).__name__}: {exc}\n{tails}")
    finally:
        fleet.stop()
        receiver.stop()
        outcome.seconds = time.monotonic() - started
    return outcome
