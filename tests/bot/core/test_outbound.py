"""What an answer sends and uses: redacted requests, reported usage first, estimates otherwise."""

from __future__ import annotations

from bot.core.outbound import Outbound
from bot.llm.client import Usage
from bot.text.prompt import estimate_tokens, text_tokens
from bot.text.redact import Redactor


def test_every_request_is_redacted_and_counted() -> None:
    outbound = Outbound(Redactor())
    map_step = outbound.messages([{"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"}])
    assert map_step == [{"role": "user", "content": "key [redacted]"}]
    outbound.side_request(map_step, "notes", Usage(10, 5, 15))
    outbound.side_request(map_step, "x" * 40, None)  # no usage reported: estimated
    final = outbound.final([{"role": "system", "content": "s" * 40}, {"role": "user", "content": "q"}])
    assert outbound.redacted == 1 and final[1] == {"role": "user", "content": "q"}
    side = 15 + estimate_tokens("key [redacted]") + text_tokens("x" * 40)
    assert outbound.side_tokens == side
    assert outbound.total_tokens("a" * 8, Usage(100, 20, 120)) == 120 + side
    assert outbound.total_tokens("a" * 8, None) == outbound.prompt_tokens + text_tokens("a" * 8) + side
    assert outbound.total_tokens("", Usage(0, 0, 0)) == outbound.prompt_tokens + side  # an empty report
