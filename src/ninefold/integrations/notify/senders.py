"""Senders: the edge that delivers a notification over HTTP or SMTP and classifies the outcome.

Every send returns a ``DeliveryResult`` instead of raising, so the outbox can decide alone what
happens next: ``delivered``; ``retryable`` (connection refused or reset, timeouts, HTTP 408, 429 and
5xx, SMTP 4xx); or ``permanent`` (other HTTP 4xx, redirects, SMTP 5xx, bad configuration), which
retrying cannot fix.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import TracebackType
from typing import Protocol

import httpx

from ninefold import __version__
from ninefold.core.clock import Clock, SystemClock, to_epoch
from ninefold.integrations.notify.message import Notification
from ninefold.integrations.notify.payloads import (
    PayloadFormat,
    email_message,
    encode_json,
    webhook_payload,
)
from ninefold.integrations.notify.signing import SIGNATURE_HEADER, signature_header

IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-Ninefold-Event"
USER_AGENT = f"ninefold/{__version__}"
_DETAIL_BYTES = 512


class DeliveryOutcome(StrEnum):
    """How a delivery attempt ended."""

    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one attempt, with the peer's status and a short detail for the dead-letter list."""

    outcome: DeliveryOutcome
    detail: str
    status_code: int | None = None
    retry_after: timedelta | None = None
    elapsed: timedelta = timedelta(0)

    @property
    def delivered(self) -> bool:
        """True when the peer accepted the message."""
        return self.outcome is DeliveryOutcome.DELIVERED

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed."""
        return self.outcome is DeliveryOutcome.RETRYABLE


class WebhookTransport(Protocol):
    """Anything that can POST a notification to a webhook URL (``WebhookSender``, ``RecordingSender``)."""

    def send(
        self,
        url: str,
        notification: Notification,
        /,
        *,
        format: PayloadFormat = ...,
        secret: str | bytes | None = ...,
    ) -> DeliveryResult:
        """Deliver ``notification`` to ``url`` in ``format``, signed when a secret is given."""
        ...


class EmailTransport(Protocol):
    """Anything that can mail a notification (``SmtpSender``, ``RecordingSender``)."""

    def send_email(self, to: Sequence[str], notification: Notification, /) -> DeliveryResult:
        """Deliver ``notification`` by email to ``to``."""
        ...


def parse_retry_after(value: str | None, *, now_epoch: float) -> timedelta | None:
    """Parse a ``Retry-After`` header (delay seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), timedelta(seconds=when.timestamp() - now_epoch))


def classify_status(status: int) -> DeliveryOutcome:
    """Classify an HTTP status: 2xx delivered; 408, 429 and 5xx retryable; anything else permanent."""
    if 200 <= status < 300:
        return DeliveryOutcome.DELIVERED
    if status in (408, 429) or status >= 500:
        return DeliveryOutcome.RETRYABLE
    return DeliveryOutcome.PERMANENT


class WebhookSender:
    """Deliver notifications as JSON webhooks over httpx, with timeouts and HMAC signatures."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        clock: Clock | None = None,
        client: httpx.Client | None = None,
        username: str | None = None,
        icon_url: str | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._username = username
        self._icon_url = icon_url

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (only when this sender created it)."""
        if self._owns_client:
            self._client.close()

    def build_request(
        self,
        notification: Notification,
        *,
        format: PayloadFormat = PayloadFormat.GENERIC,
        secret: str | bytes | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers a send would use (handy for logging and tests)."""
        document = webhook_payload(
            notification, format, username=self._username, icon_url=self._icon_url
        )
        body = encode_json(document)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: notification.idempotency_key,
            EVENT_HEADER: notification.kind.value,
        }
        if secret:
            headers[SIGNATURE_HEADER] = signature_header(secret, body, to_epoch(self._clock.now()))
        return body, headers

    def send(
        self,
        url: str,
        notification: Notification,
        /,
        *,
        format: PayloadFormat = PayloadFormat.GENERIC,
        secret: str | bytes | None = None,
    ) -> DeliveryResult:
        """POST ``notification`` to ``url`` and classify the answer; never raises for network errors."""
        body, headers = self.build_request(notification, format=format, secret=secret)
        started = time.monotonic()

        def elapsed() -> timedelta:
            return timedelta(seconds=time.monotonic() - started)

        try:
            with self._client.stream("POST", url, content=body, headers=headers) as response:
                snippet = _read_snippet(response)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return DeliveryResult(
                DeliveryOutcome.PERMANENT, f"invalid URL: {exc}", elapsed=elapsed()
            )
        except httpx.TimeoutException as exc:
            kind = "connect timeout" if isinstance(exc, httpx.ConnectTimeout) else "timeout"
            return DeliveryResult(DeliveryOutcome.RETRYABLE, f"{kind}: {exc}", elapsed=elapsed())
        except httpx.ConnectError as exc:
            return DeliveryResult(
                DeliveryOutcome.RETRYABLE, f"connect failed: {exc}", elapsed=elapsed()
            )
        except httpx.TransportError as exc:
            return DeliveryResult(
                DeliveryOutcome.RETRYABLE, f"{type(exc).__name__}: {exc}", elapsed=elapsed()
            )
        status = response.status_code
        outcome = classify_status(status)
        retry_after = None
        if outcome is DeliveryOutcome.RETRYABLE:
            retry_after = parse_retry_after(
                response.headers.get("Retry-After"), now_epoch=self._clock.now().timestamp()
            )
        detail = f"HTTP {status}"
        if 300 <= status < 400:
            detail += f" redirect to {response.headers.get('Location', '?')} not followed"
        if snippet:
            detail += f": {snippet}"
        return DeliveryResult(outcome, detail, status, retry_after, elapsed())


def _read_snippet(response: httpx.Response) -> str:
    """Read at most a few hundred bytes of the answer: enough to explain an error, never a flood."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _DETAIL_BYTES:
            break
    text = b"".join(chunks)[:_DETAIL_BYTES].decode("utf-8", errors="replace")
    return " ".join(text.split())


# SMTP reply codes 4xx are transient by definition (RFC 5321 §4.2.1), 5xx permanent.
def _smtp_outcome(code: int) -> DeliveryOutcome:
    return DeliveryOutcome.RETRYABLE if 400 <= code < 500 else DeliveryOutcome.PERMANENT


def _smtp_text(message: bytes | str) -> str:
    text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


class SmtpSender:
    """Deliver notifications by email through an SMTP relay with smtplib."""

    def __init__(
        self,
        *,
        host: str,
        from_address: str,
        port: int = 25,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        subject_prefix: str = "[ninefold]",
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        self.host = host
        self.port = port
        self.from_address = from_address
        self.starttls = starttls
        self._username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self.subject_prefix = subject_prefix

    def build_message(self, to: Sequence[str], notification: Notification) -> EmailMessage:
        """Return the email a send would deliver."""
        return email_message(
            notification,
            sender=self.from_address,
            recipients=[to] if isinstance(to, str) else list(to),
            subject_prefix=self.subject_prefix,
        )

    def send_email(self, to: Sequence[str], notification: Notification, /) -> DeliveryResult:
        """Mail ``notification`` to ``to`` and classify the outcome; never raises for SMTP errors."""
        return self.send_message(self.build_message(to, notification))

    def send_message(self, message: EmailMessage) -> DeliveryResult:
        """Deliver a prepared message and classify the outcome."""
        started = time.monotonic()
        result = self._deliver(message)
        return DeliveryResult(
            result.outcome,
            result.detail,
            result.status_code,
            result.retry_after,
            timedelta(seconds=time.monotonic() - started),
        )

    def _deliver(self, message: EmailMessage) -> DeliveryResult:
        retry, fail = DeliveryOutcome.RETRYABLE, DeliveryOutcome.PERMANENT
        try:
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self._local_hostname
            ) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            outcome = retry if any(400 <= c < 500 for c in codes) else fail
            detail = "; ".join(
                f"{rcpt}: {code} {_smtp_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
            )
            return DeliveryResult(outcome, f"all recipients refused: {detail}", min(codes))
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult(fail, f"server does not support a required extension: {exc}")
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused, authentication failed, HELO refused, connect refused.
            return DeliveryResult(
                _smtp_outcome(exc.smtp_code),
                f"SMTP {exc.smtp_code} {_smtp_text(exc.smtp_error)}",
                exc.smtp_code,
            )
        except smtplib.SMTPServerDisconnected as exc:
            return DeliveryResult(retry, f"server disconnected: {exc}")
        except smtplib.SMTPException as exc:
            return DeliveryResult(fail, f"{type(exc).__name__}: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult(fail, f"TLS certificate rejected: {exc}")
        except TimeoutError as exc:
            return DeliveryResult(retry, f"timeout: {exc}")
        except OSError as exc:
            # Connection refused or reset, unreachable network, DNS failure, TLS handshake errors.
            return DeliveryResult(retry, f"{type(exc).__name__}: {exc}")
        if refused:
            # Some recipients took it: retrying would mail them twice, so this counts as delivered.
            detail = "; ".join(
                f"{rcpt}: {code} {_smtp_text(msg)}" for rcpt, (code, msg) in refused.items()
            )
            return DeliveryResult(DeliveryOutcome.DELIVERED, f"delivered; refused {detail}", 250)
        return DeliveryResult(DeliveryOutcome.DELIVERED, "delivered", 250)


@dataclass(frozen=True, slots=True)
class RecordedDelivery:
    """One send seen by a ``RecordingSender``."""

    target: tuple[str, ...]
    notification: Notification
    channel: str
    format: PayloadFormat | None
    secret: str | bytes | None
    body: bytes | None
    email: EmailMessage | None
    result: DeliveryResult


_DELIVERED = DeliveryResult(DeliveryOutcome.DELIVERED, "recorded", 200)


@dataclass
class RecordingSender:
    """An in-memory webhook and email sender for tests: records every send and answers as scripted.

    Payloads are still built (so a notification that cannot be formatted fails here as it would for
    real); results come from ``script`` in order, then ``default``.
    """

    default: DeliveryResult = _DELIVERED
    script: list[DeliveryResult] = field(default_factory=list)
    from_address: str = "ninefold@example.invalid"
    deliveries: list[RecordedDelivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, *results: DeliveryResult) -> None:
        """Queue results for the next sends, in order."""
        with self._lock:
            self.script.extend(results)

    def _next(self) -> DeliveryResult:
        return self.script.pop(0) if self.script else self.default

    def send(
        self,
        url: str,
        notification: Notification,
        /,
        *,
        format: PayloadFormat = PayloadFormat.GENERIC,
        secret: str | bytes | None = None,
    ) -> DeliveryResult:
        """Record a webhook send and return the next scripted result."""
        body = encode_json(webhook_payload(notification, format))
        with self._lock:
            result = self._next()
            self.deliveries.append(
                RecordedDelivery(
                    (url,),
                    notification,
                    "webhook",
                    PayloadFormat(format),
                    secret,
                    body,
                    None,
                    result,
                )
            )
        return result

    def send_email(self, to: Sequence[str], notification: Notification, /) -> DeliveryResult:
        """Record an email send and return the next scripted result."""
        recipients = (to,) if isinstance(to, str) else tuple(to)
        message = email_message(notification, sender=self.from_address, recipients=recipients)
        with self._lock:
            result = self._next()
            self.deliveries.append(
                RecordedDelivery(
                    recipients, notification, "email", None, None, None, message, result
                )
            )
        return result

    def sent(self, *, idempotency_key: str | None = None) -> list[RecordedDelivery]:
        """Return the recorded sends, optionally only those of one idempotency key."""
        with self._lock:
            return [
                d
                for d in self.deliveries
                if idempotency_key is None or d.notification.idempotency_key == idempotency_key
            ]
