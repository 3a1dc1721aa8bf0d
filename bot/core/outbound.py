"""What one answer sends to RelayDance: every request's messages pass `Outbound.messages` (the
final request and each map step of a long summary), so each is redacted and its cost counted in
one place, and the answer can say that something was redacted and charge what it used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.llm.client import Usage
from bot.text.prompt import estimate_tokens, text_tokens
from bot.text.redact import Redactor

REDACTED_NOTE = "_Some text was redacted before it was sent to the model._"


class Outbound:
    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self.redacted = 0  # secrets replaced, over every request of the answer
        self.prompt_tokens = 0  # estimated, of the request that streams the answer
        self.side_tokens = 0  # used by requests before it (map steps): reported or estimated

    def messages(self, messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        """`messages` redacted, as they may leave for the model."""
        out, count = self._redactor.messages(messages)
        self.redacted += count
        return out

    def final(self, messages: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        """The answer's own request: redacted, and its prompt estimated in case usage is not reported."""
        out = self.messages(messages)
        self.prompt_tokens = sum(estimate_tokens(m.get("content", "")) for m in out)
        return out

    def side_request(self, messages: Sequence[Mapping[str, str]], answer: str, usage: Usage | None) -> None:
        """Count a request made on the way (a map step) by its reported usage, else an estimate."""
        if usage is not None and usage.total_tokens:
            self.side_tokens += usage.total_tokens
        else:
            self.side_tokens += sum(estimate_tokens(m.get("content", "")) for m in messages)
            self.side_tokens += text_tokens(answer)

    def total_tokens(self, answer: str, usage: Usage | None) -> int:
        """Tokens the whole answer used: reported usage of its request when there is one."""
        if usage is not None and usage.total_tokens:
            own = usage.total_tokens
        else:
            own = self.prompt_tokens + text_tokens(answer)
        return own + self.side_tokens
