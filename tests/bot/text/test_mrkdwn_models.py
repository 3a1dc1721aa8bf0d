"""Markdown as real models write it, against what CommonMark and Slack's mrkdwn reference expect."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.mrkdwn import RULE, markdown_to_mrkdwn

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


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("&lt;!channel&gt;", "&lt;!channel&gt;"),
        ("&#60;!here&#62;", "&lt;!here&gt;"),
        ("<<!-- x -->!channel>", "&lt;!channel&gt;"),
    ],
)
def test_decoded_or_joined_control_sequences_stay_escaped(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("これは**重要**です", f"これは{ZWSP}*重要*{ZWSP}です"),
        ("これは*重要*です", f"これは{ZWSP}_重要_{ZWSP}です"),
        ("これは_重要_です", "これは_重要_です"),  # `_` inside a word is never emphasis (CommonMark)
        ("これは~~重要~~です", f"これは{ZWSP}~重要~{ZWSP}です"),
        ("**重要：**この手順", f"*重要：*{ZWSP}この手順"),  # wide punctuation before the closer
        (
            "「**注意**」してください",
            f"「{ZWSP}*注意*{ZWSP}」してください",
        ),  # Slack wants it by wide punctuation too
        ("这是**重要**的", f"这是{ZWSP}*重要*{ZWSP}的"),
        ("**bold**text", f"*bold*{ZWSP}text"),
        ("text**bold**", f"text{ZWSP}*bold*"),
        ("un*frigging*believable", f"un{ZWSP}_frigging_{ZWSP}believable"),
        ("~~old~~new", f"~old~{ZWSP}new"),
        ("**bold** text", "*bold* text"),
        ("(**bold**)", "(*bold*)"),
        ("2*3*4", "2*3*4"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_emphasis_next_to_letters_gets_a_word_boundary(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("\\*not bold\\*", f"{ZWSP}*{ZWSP}not bold{ZWSP}*{ZWSP}"),
        ("\\*\\*not bold\\*\\*", f"{ZWSP}*{ZWSP}{ZWSP}*{ZWSP}not bold{ZWSP}*{ZWSP}{ZWSP}*{ZWSP}"),
        ("\\_not italic\\_", f"{ZWSP}_{ZWSP}not italic{ZWSP}_{ZWSP}"),
        ("\\~\\~x\\~\\~", f"{ZWSP}~{ZWSP}{ZWSP}~{ZWSP}x{ZWSP}~{ZWSP}{ZWSP}~{ZWSP}"),
        ("\\`not code\\`", f"{ZWSP}`{ZWSP}not code{ZWSP}`{ZWSP}"),
        ("a \\* b", f"a {ZWSP}*{ZWSP} b"),
        ("\\# not a heading", "# not a heading"),
        ("\\[x\\]", "[x]"),
    ],
)
def test_escaped_markers_are_shown_literally(md: str, expected: str) -> None:
    out = markdown_to_mrkdwn(md)
    assert out == expected
    # Every marker left has a zero-width space inside it, so Slack cannot pair them into markup.
    assert out.replace(ZWSP, "").replace("\\", "") == md.replace("\\", "")


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("&copy; 2024", "© 2024"),
        ("a&nbsp;b", "a\xa0b"),
        ("&#169; &#xA9; &#x27;quoted&#x27;", "© © 'quoted'"),
        ("&mdash; &hellip; &euro;", "— … €"),
        ("&amp; &lt; &gt; &quot;", '&amp; &lt; &gt; "'),
        ("&#42;not bold&#42;", "*not bold*"),  # an entity is never markup
        ("&#0;", "\ufffd"),
        ("&nosuchentity; &copy", "&amp;nosuchentity; &amp;copy"),
        ("**&copy; Acme**", "*© Acme*"),
        ("`&copy;`", "`&amp;copy;`"),  # code is verbatim
        ("```\n&copy;\n```", "```\n&amp;copy;\n```"),
        ("[&copy; x](https://x.io/?a=1&amp;b=2)", "<https://x.io/?a=1&amp;b=2|© x>"),
        ("# R&amp;D", "*R&amp;D*"),
        ("| a |\n|---|\n| &copy; |", "```\na\n-\n©\n```"),
    ],
)
def test_html_entities_are_decoded(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("one<br>two", "one\ntwo"),
        ("one<br/>two<br />three<BR>four", "one\ntwo\nthree\nfour"),
        ("**a<br>b**", "*a*\n*b*"),  # Slack markers do not span lines
        ("`<br>`", "`&lt;br&gt;`"),
        ("<brx>", "&lt;brx&gt;"),
    ],
)
def test_br_is_a_line_break(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("a <!-- note --> b", "a b"),
        ("a<!--x-->b", "ab"),
        ("`<!-- code -->`", "`&lt;!-- code --&gt;`"),
        ("**a <!-- x -->b**", "*a b*"),
    ],
)
def test_inline_html_comments_are_dropped(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("| a | b |\n|---|---|\n| x<br>y | z |", "```\na | b\n--+--\nx | z\ny |\n```"),
        (
            "| Step | Notes |\n|---|---|\n| 1 | first<br/>second<br>third |\n| 2 | done |",
            "```\nStep | Notes\n-----+-------\n1    | first\n     | second\n     | third\n2    | done\n```",
        ),
        ("| h<br>i |\n|---|\n| v |", "```\nh\ni\n-\nv\n```"),
        ("> one<br>two", "> one\n> two"),
        ("- one<br>two", "• one\n  two"),
        ("1. one<br>two", "1. one\n   two"),
        ("# one<br>two", "*one*\n*two*"),
        ("[a<br>b](https://x.io)", "<https://x.io|a b>"),
    ],
)
def test_br_in_tables_and_blocks(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("<!-- a note -->\ntext", "text"),
        ("before\n<!--\nmulti\nline\n-->\nafter", "before\nafter"),
        ("text <!-- starts\nhidden\nends --> shown", "text\nshown"),
        ("a\n<!-- TODO: **x** -->\nb", "a\nb"),
        ("```html\n<!-- kept in code -->\n```", "```\n&lt;!-- kept in code --&gt;\n```"),
        ("`<!--` opens a comment", "`&lt;!--` opens a comment"),
        ("text\n<!-- still streaming", "text"),  # an unclosed comment hides what follows
        ("<!--\n```\n-->\nafter", "after"),  # a fence inside a comment is part of it
    ],
)
def test_html_comments_are_dropped_across_lines(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("See [the docs][docs].\n\n[docs]: https://x.io/docs", "See <https://x.io/docs|the docs>."),
        ("[Docs][] and [docs]\n\n[docs]: https://x.io", "<https://x.io|Docs> and <https://x.io|docs>"),
        ('[a][ONE]\n[one]: https://x.io "Title"', "<https://x.io|a>"),
        ("[a][x y]\n\n[X   Y]: <https://x.io/a b>", "<https://x.io/a%20b|a>"),
        ("![logo][img]\n\n[img]: https://x.io/l.png", "<https://x.io/l.png|logo>"),
        ("[1]: https://a.io\nsee [1]", "see <https://a.io|1>"),
        ("[a][missing]", "[a][missing]"),
        ("[x]: https://first.io\n[x]: https://second.io\n[x]", "<https://first.io|x>"),
        ("[a][r]\n\n[r]: /relative", "a"),
        ("```\n[r]: https://x.io\n```\n[r]", "```\n[r]: https://x.io\n```\n[r]"),
        ("[a][r] and `[r]`\n\n[r]: https://x.io\n\n", "<https://x.io|a> and `[r]`"),
        ("| l |\n|---|\n| [a][r] |\n\n[r]: https://x.io", "```\nl\n----------------\na (https://x.io)\n```"),
        ('[r]: https://x.io "open title', '[r]: https://x.io "open title'),
        ("Fact.[^1]\n\n[^1]: Source.", "Fact.[^1]\n\n[^1]: Source."),  # a GFM footnote, not a link
    ],
)
def test_reference_links(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("Title\n=====", "*Title*"),
        ("Title\n-----", "*Title*"),
        ("Title\n---\nbody", "*Title*\nbody"),
        ("A **bold** title\n===", "*A bold title*"),
        ("Two\nlines\n===", "*Two*\n*lines*"),
        ("Title\n=", "*Title*"),
        ("text\n\n---", f"text\n\n{RULE}"),  # after a blank line it is a rule
        ("---", RULE),
        ("text\n***", f"text\n{RULE}"),  # only `=` and `-` underline
        ("text\n- - -", f"text\n{RULE}"),
        ("- item\n---", f"• item\n{RULE}"),  # not under a paragraph
        ("# Heading\n---", f"*Heading*\n{RULE}"),
        ("> quote\n---", f"> quote\n{RULE}"),
        ("===", "==="),
        ("Intro\n-", "Intro\n-"),  # streaming: a list item or rule is probably being typed
        ("Intro\n- ", "Intro\n• "),
        ("Intro\n- item", "Intro\n• item"),
    ],
)
def test_setext_headings(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("> first\nsecond", "> first\n> second"),
        ("> first\nsecond\nthird", "> first\n> second\n> third"),
        ("> **a**\n*b*", "> *a*\n> _b_"),
        ("> first\n\nafter", "> first\n\nafter"),
        ("> first\n- item", "> first\n• item"),
        ("> first\n# Heading", "> first\n*Heading*"),
        ("> first\n---", f"> first\n{RULE}"),
        ("> # Heading\ntext", "> *Heading*\ntext"),
        (">\ntext", ">\ntext"),
        ("> - item\nmore", "> • item\n> more"),
        ("> first\n===", "> first\n> ==="),
    ],
)
def test_lazy_block_quote_continuation(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("これは**重要", "これは**重要"),  # unclosed emphasis stays literal until it closes
        ("Title\n==", "*Title*"),
        ("Title\n--", "Title\n--"),  # the last line: maybe a rule still being typed
        ("Title\n--\n", "*Title*\n"),
        ("a &cop", "a &amp;cop"),
        ("a<b", "a&lt;b"),  # a `<br>` half written is text until it is whole
        ("[a][r]\n\n[r]: https://x.i", "<https://x.i|a>"),
        ("> quote\nlazy **bo", "> quote\n> lazy **bo"),
        ("| a |\n|---|\n| x<br>y", "```\na\n-\nx\ny\n```"),
    ],
)
def test_partial_answers_while_streaming(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@settings(max_examples=400)
@given(st.text(alphabet="ab <>!@#^&;:/[]()=-*_~`\\\n x01", max_size=200))
def test_model_text_never_mentions_or_pings(md: str) -> None:
    out = markdown_to_mrkdwn(md)
    assert not re.search(r"<[!@#]", out)
    assert not re.search(r"&(?!amp;|lt;|gt;)", out)
