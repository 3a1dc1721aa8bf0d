from __future__ import annotations

import pytest

from bot.text.from_mrkdwn import mrkdwn_to_markdown
from bot.text.mrkdwn import markdown_to_mrkdwn


@pytest.mark.parametrize(
    ("mrkdwn", "markdown"),
    [
        ("*bold* and _italic_ and ~gone~", "**bold** and *italic* and ~~gone~~"),
        ("see <https://x.example/a?b=1&amp;c=2|the docs>", "see [the docs](https://x.example/a?b=1&c=2)"),
        ("<https://x.example>", "https://x.example"),
        ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
        ("• one\n• two", "- one\n- two"),
        ("```\nif a &lt; b: *x* = 1\n```", "```\nif a < b: *x* = 1\n```"),
        ("use `*args` here", "use `*args` here"),
        ("snake_case_name stays", "snake_case_name stays"),
    ],
)
def test_mrkdwn_back_to_markdown(mrkdwn: str, markdown: str) -> None:
    assert mrkdwn_to_markdown(mrkdwn) == markdown


@pytest.mark.parametrize(
    "markdown",
    ["**Bold** text with a [link](https://x.example) and `code`", "- one\n- two", "a < b && c"],
)
def test_what_we_post_reads_back_as_what_we_wrote(markdown: str) -> None:
    assert mrkdwn_to_markdown(markdown_to_mrkdwn(markdown)) == markdown
