"""Delivery channels: an HTTP webhook and SMTP e-mail, each one attempt per call.

A channel either returns (delivered) or raises :class:`DeliveryError`
(worth retrying: timeouts, refused connections, 408/429/5xx, SMTP 4xx) or
:class:`PermanentDelivery` (the receiver will never take it: other 4xx,
SMTP 5xx). Retries and backoff are the notifier's job, not the channel's.
Every attempt carries the change's idempotency key so a receiver can drop a
repeat after a crash between delivery and bookkeeping.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import aiohttp

from services.alerts.errors import DeliveryError, PermanentDelivery

RETRY_STATUSES = frozenset({408, 425, 429})


class Channel(Protocol):
    async def deliver(self, target: str, body: dict[str, Any], key: str) -> None: ...


class Webhook:
    """POSTs the stored JSON body to the target URL."""

    def __init__(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, target: str, body: dict[str, Any], key: str) -> None:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "packwatch-alerts/1",
        }
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            async with self.session.post(
                target, data=data, headers=headers, timeout=self.timeout
            ) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"webhook {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return
        if status >= 500 or status in RETRY_STATUSES:
            raise DeliveryError(f"webhook answered {status}")
        raise PermanentDelivery(f"webhook refused with {status}")


class Email:
    """Sends a plain-text message over SMTP (stdlib client, in a worker thread)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout_s = timeout_s

    def _send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)

    async def deliver(self, target: str, body: dict[str, Any], key: str) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = target
        msg["Subject"] = str(body.get("subject", "packwatch alert"))
        msg["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain="packwatch")
        msg["X-Packwatch-Idempotency-Key"] = key
        msg.set_content(str(body.get("text", "")))
        try:
            await asyncio.to_thread(self._send, msg)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise PermanentDelivery(f"smtp refused: {exc.smtp_code}") from exc
            raise DeliveryError(f"smtp {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp {type(exc).__name__}: {exc}") from exc
