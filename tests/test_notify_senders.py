"""Senders against real peers on loopback (an HTTP receiver, aiosmtpd), and the retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiosmtpd.controller as aiosmtpd_controller
import aiosmtpd.smtp as aiosmtpd_smtp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ninefold.core.clock import FrozenClock
from ninefold.integrations.notify.backoff import (
    BackoffPolicy,
    ceiling,
    decide,
    jittered_delay,
)
from ninefold.integrations.notify.message import (
    Notification,
    NotificationKind,
    NotificationLinks,
    Severity,
)
from ninefold.integrations.notify.payloads import (
    PayloadFormat,
    encode_json,
    webhook_payload,
)
from ninefold.integrations.notify.senders import (
    DeliveryOutcome,
    DeliveryResult,
    EmailTransport,
    RecordingSender,
    SmtpSender,
    WebhookSender,
    WebhookTransport,
    classify_status,
    parse_retry_after,
)
from ninefold.integrations.notify.signing import (
    AlertAction,
    make_action_token,
    verify_action_token,
    verify_signature_header,
)

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
SECRET = "whsec_loopback_3b9e"
LINK_SECRET = "links_loopback_51aa"


def page(**overrides: Any) -> Notification:
    """A page whose ack/resolve links carry real signed tokens."""
    expires = NOW + timedelta(hours=4)
    ack = make_action_token(LINK_SECRET, "42", AlertAction.ACKNOWLEDGE, expires)
    resolve = make_action_token(LINK_SECRET, "42", AlertAction.RESOLVE, expires)
    fields: dict[str, Any] = {
        "idempotency_key": "alert-42:page:1",
        "kind": NotificationKind.PAGE,
        "title": "checkout error budget burning 14x",
        "summary": "5xx ratio 2.1% over 1h",
        "severity": Severity.CRITICAL,
        "service": "checkout",
        "occurred_at": NOW,
        "alert_id": "42",
        "labels": {"team": "payments"},
        "links": NotificationLinks(
            ack=f"https://nf.example/actions/{ack}",
            resolve=f"https://nf.example/actions/{resolve}",
            view="https://nf.example/alerts/42",
        ),
    }
    fields.update(overrides)
    return Notification(**fields)


# --- a real HTTP receiver --------------------------------------------------------------------


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback webhook receiver: ``/ok`` 200, ``/fail`` 500, ``/busy`` 429, ``/slow`` hangs …"""

    requests: list[Received] = field(default_factory=list)
    port: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        """Serve in a daemon thread on a free port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                route = self.path.split("?")[0]
                if route == "/slow":
                    receiver.release.wait(5)
                    return
                status, headers, text = {
                    "/ok": (200, {}, "ok"),
                    "/accepted": (202, {}, ""),
                    "/fail": (500, {}, "internal error"),
                    "/unavailable": (503, {"Retry-After": "120"}, "maintenance"),
                    "/busy": (429, {"Retry-After": "7"}, "rate_limited"),
                    "/busy-date": (429, {"Retry-After": "Sun, 01 Nov 2026 09:31:00 GMT"}, ""),
                    "/request-timeout": (408, {}, ""),
                    "/bad": (400, {}, "invalid_payload " + "x" * 2000),
                    "/gone": (410, {}, "no_service"),
                    "/moved": (301, {"Location": "https://elsewhere.example/hook"}, ""),
                }.get(route, (404, {}, "no such hook"))
                data = text.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(0.02), daemon=True).start()
        return self

    def url(self, path: str) -> str:
        """The receiver's URL for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Stop serving and let any held request go."""
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    with WebhookSender(timeout=2.0, clock=FrozenClock(NOW)) as s:
        yield s


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- webhooks --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(PayloadFormat))
def test_each_format_is_delivered_signed(
    receiver: Receiver, sender: WebhookSender, fmt: PayloadFormat
) -> None:
    n = page()
    result = sender.send(receiver.url("/ok"), n, format=fmt, secret=SECRET)
    assert result.outcome is DeliveryOutcome.DELIVERED
    assert result.delivered
    assert result.status_code == 200
    (req,) = receiver.requests
    assert req.headers["content-type"] == "application/json; charset=utf-8"
    assert req.headers["idempotency-key"] == "alert-42:page:1"
    assert req.headers["x-ninefold-event"] == "page"
    assert req.headers["user-agent"].startswith("ninefold/")
    assert json.loads(req.body) == webhook_payload(n, fmt)
    header = req.headers["x-ninefold-signature"]
    # With the library's verifier …
    assert verify_signature_header(SECRET, req.body, header, now=int(NOW.timestamp())) == int(
        NOW.timestamp()
    )
    # … and independently, from the documented scheme.
    parts = dict(item.split("=", 1) for item in header.split(","))
    signed = f"{parts['t']}.".encode() + req.body
    assert hmac.compare_digest(
        parts["v1"], hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    )


def test_unsigned_when_no_secret(receiver: Receiver, sender: WebhookSender) -> None:
    assert sender.send(receiver.url("/accepted"), page()).delivered
    assert "x-ninefold-signature" not in receiver.requests[0].headers


def test_mattermost_identity_reaches_the_wire(receiver: Receiver) -> None:
    with WebhookSender(username="ninefold", icon_url="https://nf.example/i.png") as s:
        s.send(receiver.url("/ok"), page(), format=PayloadFormat.MATTERMOST)
    body = json.loads(receiver.requests[0].body)
    assert (body["username"], body["icon_url"]) == ("ninefold", "https://nf.example/i.png")


def test_retries_carry_the_same_idempotency_key_and_body(
    receiver: Receiver, sender: WebhookSender
) -> None:
    n = page()
    sender.send(receiver.url("/fail"), n, secret=SECRET)
    sender.send(receiver.url("/ok"), n, secret=SECRET)
    first, second = receiver.requests
    assert first.body == second.body == encode_json(webhook_payload(n))
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


@pytest.mark.parametrize(
    ("path", "outcome", "status", "retry_after"),
    [
        ("/fail", DeliveryOutcome.RETRYABLE, 500, None),
        ("/unavailable", DeliveryOutcome.RETRYABLE, 503, timedelta(seconds=120)),
        ("/busy", DeliveryOutcome.RETRYABLE, 429, timedelta(seconds=7)),
        ("/busy-date", DeliveryOutcome.RETRYABLE, 429, timedelta(seconds=60)),
        ("/request-timeout", DeliveryOutcome.RETRYABLE, 408, None),
        ("/bad", DeliveryOutcome.PERMANENT, 400, None),
        ("/gone", DeliveryOutcome.PERMANENT, 410, None),
        ("/nowhere", DeliveryOutcome.PERMANENT, 404, None),
        ("/moved", DeliveryOutcome.PERMANENT, 301, None),
    ],
)
def test_answers_are_classified(
    receiver: Receiver,
    sender: WebhookSender,
    path: str,
    outcome: DeliveryOutcome,
    status: int,
    retry_after: timedelta | None,
) -> None:
    result = sender.send(receiver.url(path), page())
    assert (result.outcome, result.status_code, result.retry_after) == (
        outcome,
        status,
        retry_after,
    )
    assert result.detail.startswith(f"HTTP {status}")
    assert len(result.detail) < 600


def test_error_body_and_redirect_target_are_kept_in_the_detail(
    receiver: Receiver, sender: WebhookSender
) -> None:
    assert "invalid_payload" in sender.send(receiver.url("/bad"), page()).detail
    moved = sender.send(receiver.url("/moved"), page())
    assert "https://elsewhere.example/hook" in moved.detail
    assert len(receiver.requests) == 2  # the redirect was not followed


def test_connection_refused_is_retryable(sender: WebhookSender) -> None:
    result = sender.send(f"http://127.0.0.1:{closed_port()}/hook", page())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert result.status_code is None
    assert "connect" in result.detail


def test_slow_receiver_times_out_as_retryable(receiver: Receiver) -> None:
    with WebhookSender(timeout=0.3) as s:
        result = s.send(receiver.url("/slow"), page())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert "timeout" in result.detail
    assert timedelta(seconds=0.25) < result.elapsed < timedelta(seconds=3)
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "not a url", "http://"])
def test_unusable_urls_are_permanent(sender: WebhookSender, url: str) -> None:
    assert sender.send(url, page()).outcome is DeliveryOutcome.PERMANENT


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, DeliveryOutcome.DELIVERED),
        (204, DeliveryOutcome.DELIVERED),
        (302, DeliveryOutcome.PERMANENT),
        (400, DeliveryOutcome.PERMANENT),
        (401, DeliveryOutcome.PERMANENT),
        (403, DeliveryOutcome.PERMANENT),
        (408, DeliveryOutcome.RETRYABLE),
        (413, DeliveryOutcome.PERMANENT),
        (429, DeliveryOutcome.RETRYABLE),
        (500, DeliveryOutcome.RETRYABLE),
        (502, DeliveryOutcome.RETRYABLE),
        (504, DeliveryOutcome.RETRYABLE),
    ],
)
def test_status_table(status: int, outcome: DeliveryOutcome) -> None:
    assert classify_status(status) is outcome


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("30", timedelta(seconds=30)),
        (" 0 ", timedelta(0)),
        ("Sun, 01 Nov 2026 09:35:00 GMT", timedelta(minutes=5)),
        ("Sun, 01 Nov 2026 09:00:00 GMT", timedelta(0)),
        ("soon", None),
        ("-5", None),
    ],
)
def test_retry_after_parsing(value: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(value, now_epoch=NOW.timestamp()) == expected


# --- a real SMTP server ----------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that keeps every message and can refuse recipients by prefix."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("busy"):
            return "451 4.3.0 mailbox busy, try later"
        if address.startswith("nobody"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpPeer:
    """A running aiosmtpd controller and its mailbox."""

    mailbox: Mailbox
    port: int


def _start_smtp(**kwargs: Any) -> tuple[Any, SmtpPeer]:
    mailbox = Mailbox()
    port = closed_port()
    controller = aiosmtpd_controller.Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, SmtpPeer(mailbox, port)


@pytest.fixture
def smtp_peer() -> Iterator[SmtpPeer]:
    controller, peer = _start_smtp()
    yield peer
    controller.stop()


def _parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_email_is_received_with_subject_text_html_and_working_links(smtp_peer: SmtpPeer) -> None:
    smtp = SmtpSender(host="127.0.0.1", port=smtp_peer.port, from_address="pager@nf.example")
    result = smtp.send_email(["oncall@payments.example", "lead@payments.example"], page())
    assert result.outcome is DeliveryOutcome.DELIVERED
    assert result.detail == "delivered"
    ((mail_from, rcpts, raw),) = smtp_peer.mailbox.messages
    assert mail_from == "pager@nf.example"
    assert rcpts == ["oncall@payments.example", "lead@payments.example"]
    msg = _parse(raw)
    assert msg["Subject"].strip() == (
        "[ninefold] [CRITICAL] Page: checkout: checkout error budget burning 14x"
    )
    assert msg["X-Ninefold-Idempotency-Key"] == "alert-42:page:1"
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    assert text_part is not None
    assert html_part is not None
    text = text_part.get_content()
    html = html_part.get_content()
    assert "5xx ratio 2.1% over 1h" in text
    assert "checkout error budget burning 14x" in html
    # The links that arrived are the signed ones, and they verify for exactly their action.
    for action in AlertAction:
        label = "Acknowledge" if action is AlertAction.ACKNOWLEDGE else "Resolve"
        (line,) = [ln for ln in text.splitlines() if ln.startswith(f"{label}: ")]
        token = line.split("/actions/", 1)[1]
        assert f'href="https://nf.example/actions/{token}"' in html
        claim = verify_action_token(LINK_SECRET, token, now=NOW, alert_id="42", action=action)
        assert claim.action is action


def test_a_single_recipient_string_is_one_recipient(smtp_peer: SmtpPeer) -> None:
    smtp = SmtpSender(host="127.0.0.1", port=smtp_peer.port, from_address="pager@nf.example")
    assert smtp.send_email("oncall@payments.example", page()).delivered
    assert smtp_peer.mailbox.messages[0][1] == ["oncall@payments.example"]


@pytest.mark.parametrize(
    ("rcpts", "outcome", "code"),
    [
        (["busy@x.example"], DeliveryOutcome.RETRYABLE, 451),
        (["nobody@x.example"], DeliveryOutcome.PERMANENT, 550),
        (["nobody@x.example", "busy@x.example"], DeliveryOutcome.RETRYABLE, 451),
    ],
)
def test_refused_recipients_are_classified_by_reply_code(
    smtp_peer: SmtpPeer, rcpts: list[str], outcome: DeliveryOutcome, code: int
) -> None:
    smtp = SmtpSender(host="127.0.0.1", port=smtp_peer.port, from_address="pager@nf.example")
    result = smtp.send_email(rcpts, page())
    assert (result.outcome, result.status_code) == (outcome, code)
    assert "refused" in result.detail
    assert smtp_peer.mailbox.messages == []


def test_partly_refused_counts_as_delivered(smtp_peer: SmtpPeer) -> None:
    smtp = SmtpSender(host="127.0.0.1", port=smtp_peer.port, from_address="pager@nf.example")
    result = smtp.send_email(["ok@x.example", "nobody@x.example"], page())
    assert result.outcome is DeliveryOutcome.DELIVERED
    assert "nobody@x.example: 550" in result.detail
    assert smtp_peer.mailbox.messages[0][1] == ["ok@x.example"]


def test_smtp_server_down_is_retryable() -> None:
    smtp = SmtpSender(host="127.0.0.1", port=closed_port(), from_address="pager@nf.example")
    result = smtp.send_email(["oncall@payments.example"], page())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert "Refused" in result.detail


def test_smtp_server_that_never_greets_times_out_as_retryable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        smtp = SmtpSender(host="127.0.0.1", port=port, from_address="p@nf.example", timeout=0.3)
        result = smtp.send_email(["a@x.example"], page())
    assert result.outcome is DeliveryOutcome.RETRYABLE
    assert "timed out" in result.detail.lower()


def test_starttls_required_but_not_offered_is_permanent(smtp_peer: SmtpPeer) -> None:
    smtp = SmtpSender(
        host="127.0.0.1", port=smtp_peer.port, from_address="p@nf.example", starttls=True
    )
    result = smtp.send_email(["a@x.example"], page())
    assert result.outcome is DeliveryOutcome.PERMANENT
    assert "STARTTLS" in result.detail


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a throwaway certificate (Debian package openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_and_login_against_a_tls_server(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = (auth.login, auth.password) == (b"ninefold", b"s3cret")
        logins.append((mechanism, auth.login))
        return aiosmtpd_smtp.AuthResult(success=ok, handled=False)

    controller, peer = _start_smtp(
        tls_context=server_tls, require_starttls=True, authenticator=authenticator
    )
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        good = SmtpSender(
            host="127.0.0.1",
            port=peer.port,
            from_address="p@nf.example",
            starttls=True,
            username="ninefold",
            password="s3cret",
            ssl_context=client_tls,
        )
        assert good.send_email(["a@x.example"], page()).delivered
        bad_password = SmtpSender(
            host="127.0.0.1",
            port=peer.port,
            from_address="p@nf.example",
            starttls=True,
            username="ninefold",
            password="wrong",
            ssl_context=client_tls,
        )
        refused = bad_password.send_email(["a@x.example"], page())
        assert (refused.outcome, refused.status_code) == (DeliveryOutcome.PERMANENT, 535), refused
        untrusting = SmtpSender(
            host="127.0.0.1", port=peer.port, from_address="p@nf.example", starttls=True
        )
        unverified = untrusting.send_email(["a@x.example"], page())
        assert unverified.outcome is DeliveryOutcome.PERMANENT
        assert "certificate" in unverified.detail
    finally:
        controller.stop()
    assert len(peer.mailbox.messages) == 1
    assert logins[0][1] == b"ninefold"


def test_username_without_password_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="together"):
        SmtpSender(host="127.0.0.1", from_address="p@nf.example", username="u")


# --- the in-memory recorder ------------------------------------------------------------------


def test_recording_sender_records_and_answers_as_scripted() -> None:
    rec = RecordingSender()
    webhook: WebhookTransport = rec
    email: EmailTransport = rec
    failure = DeliveryResult(DeliveryOutcome.RETRYABLE, "HTTP 503", 503)
    rec.answer(failure)
    n = page()
    assert webhook.send("https://hooks.example/x", n, format=PayloadFormat.SLACK) == failure
    assert webhook.send("https://hooks.example/x", n, format=PayloadFormat.SLACK).delivered
    assert email.send_email(["a@x.example"], page(idempotency_key="k2")).delivered
    first, _, third = rec.sent()
    assert first.target == ("https://hooks.example/x",)
    assert first.format is PayloadFormat.SLACK
    assert first.body is not None
    assert json.loads(first.body)["text"].startswith("[CRITICAL]")
    assert third.channel == "email"
    assert third.email is not None
    assert third.email["To"] == "a@x.example"
    assert [d.result.outcome for d in rec.sent(idempotency_key="alert-42:page:1")] == [
        DeliveryOutcome.RETRYABLE,
        DeliveryOutcome.DELIVERED,
    ]


def test_real_senders_satisfy_the_protocols() -> None:
    with WebhookSender() as webhook_sender:
        webhook: WebhookTransport = webhook_sender
        assert webhook is webhook_sender
    email: EmailTransport = SmtpSender(host="127.0.0.1", from_address="p@nf.example")
    assert email is not None


# --- retry schedule (pure) -------------------------------------------------------------------

POLICY = BackoffPolicy(
    base=timedelta(seconds=5), cap=timedelta(minutes=5), multiplier=2, max_attempts=8
)


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 300), (8, 300), (10_000, 300)],
)
def test_ceiling_table(attempt: int, seconds: int) -> None:
    assert ceiling(POLICY, attempt) == timedelta(seconds=seconds)


def test_multiplier_one_is_constant() -> None:
    flat = BackoffPolicy(base=timedelta(seconds=30), cap=timedelta(seconds=30), multiplier=1)
    assert {ceiling(flat, a) for a in range(1, 50)} == {timedelta(seconds=30)}


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, timedelta(0)), (0.5, timedelta(seconds=10)), (0.999999, timedelta(seconds=19.999))],
)
def test_full_jitter_scales_the_ceiling(draw: float, expected: timedelta) -> None:
    assert jittered_delay(POLICY, 3, lambda: draw) == expected


def test_decisions() -> None:
    def rand() -> float:
        return 0.5

    assert decide(POLICY, attempts=1, rand=rand) == decide(POLICY, attempts=1, rand=rand)
    assert decide(POLICY, attempts=1, rand=rand).delay == timedelta(seconds=2.5)
    assert not decide(POLICY, attempts=7, rand=rand).dead_letter
    last = decide(POLICY, attempts=8, rand=rand)
    assert last.dead_letter
    assert "8 attempts" in last.reason
    assert decide(POLICY, attempts=1, permanent=True).dead_letter
    honoured = decide(POLICY, attempts=1, retry_after=timedelta(seconds=90), rand=rand)
    assert (honoured.dead_letter, honoured.delay) == (False, timedelta(seconds=90))
    capped = decide(POLICY, attempts=1, retry_after=timedelta(days=1), rand=rand)
    assert capped.delay == POLICY.cap
    shorter = decide(POLICY, attempts=6, retry_after=timedelta(seconds=1), rand=rand)
    assert shorter.delay == timedelta(seconds=80)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": timedelta(0)},
        {"base": timedelta(seconds=10), "cap": timedelta(seconds=5)},
        {"multiplier": 0.5},
        {"max_attempts": 0},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="from 1"):
        ceiling(POLICY, 0)
    with pytest.raises(ValueError, match="outside"):
        jittered_delay(POLICY, 1, lambda: 1.5)
    with pytest.raises(ValueError, match="at least one"):
        decide(POLICY, attempts=0)


policies = st.builds(
    BackoffPolicy,
    base=st.integers(1, 600).map(lambda s: timedelta(seconds=s)),
    cap=st.integers(600, 86_400).map(lambda s: timedelta(seconds=s)),
    multiplier=st.floats(1.0, 10.0),
    max_attempts=st.integers(1, 50),
)


@settings(max_examples=200, deadline=None)
@given(policy=policies, attempt=st.integers(1, 10_000), seed=st.integers())
def test_delay_is_within_bounds(policy: BackoffPolicy, attempt: int, seed: int) -> None:
    top = ceiling(policy, attempt)
    assert policy.base <= top <= policy.cap
    delay = jittered_delay(policy, attempt, random.Random(seed).random)
    assert timedelta(0) <= delay <= top


@settings(max_examples=200, deadline=None)
@given(policy=policies, attempt=st.integers(1, 500))
def test_ceiling_is_monotonic_and_reaches_the_cap(policy: BackoffPolicy, attempt: int) -> None:
    assert ceiling(policy, attempt) <= ceiling(policy, attempt + 1) <= policy.cap
    if policy.multiplier >= 1.5:
        assert ceiling(policy, 10_000) == policy.cap


@settings(max_examples=100, deadline=None)
@given(policy=policies, seed=st.integers())
def test_seeded_schedules_are_reproducible(policy: BackoffPolicy, seed: int) -> None:
    def schedule() -> list[tuple[bool, timedelta]]:
        rand = random.Random(seed).random
        return [
            (d.dead_letter, d.delay)
            for d in (
                decide(policy, attempts=a, rand=rand) for a in range(1, policy.max_attempts + 1)
            )
        ]

    first = schedule()
    assert first == schedule()
    assert [dead for dead, _ in first] == [False] * (policy.max_attempts - 1) + [True]
