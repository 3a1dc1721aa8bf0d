"""Markdown as real models write it, against what CommonMark and Slack's mrkdwn reference expect."""

from __future__ import annotations

import pytest

from bot.text.mrkdwn import markdown_to_mrkdwn

ZWSP = "\u200b"


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here> now", "&lt;!here&gt; now"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<@U123|bob>", "&lt;@U123|bob&gt;"),
        ("<#C123>", "&lt;#C123&gt;"),
        ("<!subteam^S1>", "&lt;!subteam^S1&gt;"),
        ("<!date^1392734382^{date}|Feb 18>", "&lt;!date^1392734382^{date}|Feb 18&gt;"),
        ("[<!here>](https://x.io)", "<https://x.io|&lt;!here&gt;>"),
        ("[x](<!channel>)", "x"),
        ("<https://x.io|<!channel>>", "&lt;https://x.io|&lt;!channel&gt;&gt;"),
        ("# <!channel>", "*&lt;!channel&gt;*"),
        ("- <@U1>", "• &lt;@U1&gt;"),
        ("> <!here>", "> &lt;!here&gt;"),
        ("`<!channel>`", "`&lt;!channel&gt;`"),
        ("```\n<!channel>\n```", "```\n&lt;!channel&gt;\n```"),
        ("| <!channel> |\n|---|\n| <@U1> |", "```\n&lt;!channel&gt;\n----------\n&lt;@U1&gt;\n```"),
        ("**<!channel>**", "*&lt;!channel&gt;*"),
    ],
)
def test_slack_control_sequences_never_reach_slack_unescaped(md: str, expected: str) -> None:
    out = markdown_to_mrkdwn(md)
    assert out == expected
    assert "<!" not in out and "<@" not in out and "<#" not in out
