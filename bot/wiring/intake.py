"""The HTTP endpoint's door: check the signature on the raw bytes, then the payload's shape, and
only then hand the request to Bolt.

Bolt parses the body before it verifies the signature, so a malformed body (invalid JSON, a JSON
array, `event: null`) from anyone who can reach the endpoint became a 500 with a traceback. Here
an unsigned or stale request gets 401 and a signed but malformed one 400, each with one log line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from bot.slack.payloads import problem_with

log = logging.getLogger(__name__)


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


MAX_AGE_SECONDS = 300  # Slack's own advice: refuse requests older than five minutes (replays)


class Intake:
    def __init__(self, signing_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._clock = clock

    def _signed(self, raw: bytes, timestamp: str | None, signature: str | None) -> bool:
        """Slack's v0 signature over the exact bytes (slack-sdk's verifier wants UTF-8 text)."""
        if not timestamp or not signature or not timestamp.isdigit():
            return False
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
        return hmac.compare_digest("v0=" + digest.hexdigest(), signature)

    def check(self, raw: bytes, headers: Mapping[str, str]) -> str:
        """The body as text; raises `Refused` unless it is signed by Slack, recent, and well-formed."""
        timestamp = headers.get("X-Slack-Request-Timestamp") or headers.get("x-slack-request-timestamp")
        signature = headers.get("X-Slack-Signature") or headers.get("x-slack-signature")
        if not self._signed(raw, timestamp, signature):
            raise Refused(401, "invalid or stale signature")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "the body is not UTF-8") from None
        content_type = (headers.get("Content-Type") or headers.get("content-type") or "").lower()
        parsed = _parse(body, content_type)
        problem = problem_with(parsed)
        if problem is not None:
            raise Refused(400, problem)
        return body


def _parse(body: str, content_type: str) -> object:
    try:
        if content_type.startswith("application/json") or body.lstrip().startswith(("{", "[")):
            return json.loads(body)
        form = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" in form:
            return json.loads(form["payload"])
        return form
    except (json.JSONDecodeError, UnicodeError, RecursionError) as exc:
        raise Refused(400, f"the body is not valid JSON ({type(exc).__name__})") from None
