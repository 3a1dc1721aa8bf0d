from __future__ import annotations

import re
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.text.mrkdwn import RULE, escape_mrkdwn, markdown_to_mrkdwn


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("**bold**", "*bold*"),
        ("__bold__", "*bold*"),
        ("*italic*", "_italic_"),
        ("_italic_", "_italic_"),
        ("***both***", "_*both*_"),
        ("___both___", "_*both*_"),
        ("~~strike~~", "~strike~"),
        ("a **bold** word", "a *bold* word"),
        ("**bold** and *italic*", "*bold* and _italic_"),
        ("**bold with *italic* inside**", "*bold with _italic_ inside*"),
        ("*italic with **bold** inside*", "_italic with *bold* inside_"),
        ("**outer **inner** outer**", "*outer inner outer*"),  # Slack cannot nest `*` in `*`
        ("**Note:** read this", "*Note:* read this"),
        ("(**bold**)", "(*bold*)"),
        ("**bold**.", "*bold*."),
        ("~~**both**~~", "~*both*~"),
        ("__init__.py", "*init*.py"),  # CommonMark (and GitHub) read this as bold too
    ],
)
def test_emphasis(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    "md",
    [
        "snake_case_name",
        "a * b * c",
        "2*3*4",
        "x ** y",
        "~5 minutes",
        "a ~~~ b",
        "**unclosed bold",
        "*unclosed italic",
        "file_name_here.txt",
        "a ~single~ tilde",
        "a **** b",
    ],
)
def test_text_that_is_not_emphasis_stays_literal(md: str) -> None:
    assert markdown_to_mrkdwn(md) == md


def test_intraword_underscores_in_a_sentence() -> None:
    assert markdown_to_mrkdwn("call my_func_name _now_") == "call my_func_name _now_"


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("[text](https://example.com)", "<https://example.com|text>"),
        ('[text](https://example.com "title")', "<https://example.com|text>"),
        ("[text](<https://example.com/a b>)", "<https://example.com/a%20b|text>"),
        ("[a **b**](https://x.io)", "<https://x.io|a b>"),
        ("[`code`](https://x.io)", "<https://x.io|code>"),
        ("[https://x.io](https://x.io)", "<https://x.io>"),
        ("[](https://x.io)", "<https://x.io>"),
        ("[q](https://x.io/?a=1&b=2)", "<https://x.io/?a=1&amp;b=2|q>"),
        ("[q](https://x.io/a|b)", "<https://x.io/a%7Cb|q>"),
        ("[a < b](https://x.io)", "<https://x.io|a &lt; b>"),
        ("[wiki](https://en.wikipedia.org/wiki/Foo_(bar))", "<https://en.wikipedia.org/wiki/Foo_(bar)|wiki>"),
        ("[mail](mailto:a@b.io)", "<mailto:a@b.io|mail>"),
        ("[site](www.x.io)", "<http://www.x.io|site>"),
        ("[docs](/docs/intro)", "docs"),
        ("[top](#top)", "top"),
        ("[x](javascript:alert(1))", "x"),
        ("![diagram](https://x.io/d.png)", "<https://x.io/d.png|diagram>"),
        ("<https://x.io/a?b=1&c=2>", "<https://x.io/a?b=1&amp;c=2>"),
        ("<me@example.com>", "<mailto:me@example.com|me@example.com>"),
        ("[not a link]", "[not a link]"),
        ("[half](https://x.io", "[half](https://x.io"),
        ("see [1] and [2]", "see [1] and [2]"),
    ],
)
def test_links(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("https://example.com/a_b_c", "https://example.com/a_b_c"),
        ("https://example.com/*x*", "https://example.com/*x*"),
        ("see https://example.com.", "see https://example.com."),
        ("(https://example.com/x)", "(https://example.com/x)"),
        ("https://x.io/?a=1&b=2", "https://x.io/?a=1&amp;b=2"),
        ("**https://x.io**", "*https://x.io*"),
        ("www.example.com/_a_", "www.example.com/_a_"),
        ("https://", "https://"),
        ("_see https://x.io/a_b_", "_see https://x.io/a_b_"),
    ],
)
def test_bare_urls_are_left_alone(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("# Title", "*Title*"),
        ("###### Six", "*Six*"),
        ("## Closing hashes ##", "*Closing hashes*"),
        ("## **Bold** title", "*Bold title*"),
        ("## A _nice_ title", "*A _nice_ title*"),
        ("#", ""),
        ("#hashtag", "#hashtag"),
        ("####### seven", "####### seven"),
        ("## C#", "*C#*"),
        ("## a < b", "*a &lt; b*"),
    ],
)
def test_headings(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("- one\n- two", "• one\n• two"),
        ("* one\n+ two", "• one\n• two"),
        ("- one\n  - nested\n    - deeper", "• one\n    ◦ nested\n        ▪ deeper"),
        ("- one\n    - nested four", "• one\n    ◦ nested four"),
        ("- a\n  - b\n- c", "• a\n    ◦ b\n• c"),
        ("- **Term**: text", "• *Term*: text"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("1) first", "1) first"),
        ("1. step\n   - detail", "1. step\n    ◦ detail"),
        ("- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"),
        ("- a\n\n- b", "• a\n\n• b"),
        ("-not a list", "-not a list"),
        ("*emphasis* not a list", "_emphasis_ not a list"),
    ],
)
def test_lists(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


def test_list_nesting_restarts_after_a_paragraph() -> None:
    md = "- a\n  - b\n\nText\n\n  - c"
    assert markdown_to_mrkdwn(md) == "• a\n    ◦ b\n\nText\n\n• c"


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("> quoted", "> quoted"),
        (">quoted", "> quoted"),
        ("> **bold** quote", "> *bold* quote"),
        ("> > nested", "> nested"),
        ("> - item", "> • item"),
        (">", ">"),
        ("a > b", "a &gt; b"),
    ],
)
def test_blockquotes(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize("md", ["---", "***", "___", "- - -", "* * *", "-----"])
def test_horizontal_rules(md: str) -> None:
    assert markdown_to_mrkdwn(md) == RULE


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("`code`", "`code`"),
        ("`**not bold**`", "`**not bold**`"),
        ("`a < b && c`", "`a &lt; b &amp;&amp; c`"),
        ("``a ` b``", "``a ` b``"),
        ("`` `x` ``", "`` `x` ``"),
        ("`unclosed", "`unclosed"),
        ("`a` and `b`", "`a` and `b`"),
        ("`[x](https://y.io)`", "`[x](https://y.io)`"),
        ("`https://x.io/_a_`", "`https://x.io/_a_`"),
        ("```one line```", "`one line`"),
    ],
)
def test_inline_code_is_verbatim(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("```\ncode\n```", "```\ncode\n```"),
        ("```python\nx = 1\n```", "```\nx = 1\n```"),
        ("~~~\ncode\n~~~", "```\ncode\n```"),
        ("~~~js\n```\n~~~", "```\n```\n```"),
        ("````\n```\n````", "```\n```\n```"),
        ("```\n**not bold** # no heading\n- no list\n```", "```\n**not bold** # no heading\n- no list\n```"),
        ("```\nif a < b && c > d:\n```", "```\nif a &lt; b &amp;&amp; c &gt; d:\n```"),
        ("```\n  indented\n```", "```\n  indented\n```"),
        ("1. step\n   ```bash\n   npm i\n   ```", "1. step\n```\nnpm i\n```"),
        ("```\n\n```", "```\n\n```"),
    ],
)
def test_fenced_code_blocks(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("text\n```python\nx = 1", "text\n```\nx = 1\n```"),
        ("text\n```python\nx = 1\n", "text\n```\nx = 1\n```"),
        ("text\n```python\nx = 1\n\n", "text\n```\nx = 1\n\n```"),
        ("text\n```python", "text"),
        ("text\n```python\n", "text"),
        ("text\n```\ncode\n``", "text\n```\ncode\n``\n```"),
    ],
)
def test_unclosed_fence_renders_closed_while_streaming(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


def test_table_becomes_an_aligned_code_block() -> None:
    md = "| Name | Qty |\n|:-----|----:|\n| **Apple** | 3 |\n| Kiwi | 12 |"
    assert markdown_to_mrkdwn(md) == "```\nName  | Qty\n------+----\nApple |   3\nKiwi  |  12\n```"


def test_table_without_outer_pipes_and_with_centered_column() -> None:
    md = "a | b | c\n--|:-:|--\n1 | x | [y](https://y.io)"
    assert markdown_to_mrkdwn(md) == "```\na | b | c\n--+---+-----------------\n1 | x | y (https://y.io)\n```"


def test_table_cells_keep_escaped_pipes_and_escape_slack_characters() -> None:
    md = "| expr |\n|---|\n| a \\| b |\n| x < y |"
    assert markdown_to_mrkdwn(md) == "```\nexpr\n-----\na | b\nx &lt; y\n```"


def test_table_columns_count_wide_characters_twice() -> None:
    md = "| k | v |\n|---|---|\n| 日本 | 1 |\n| ab | 2 |"
    assert markdown_to_mrkdwn(md) == "```\nk    | v\n-----+--\n日本 | 1\nab   | 2\n```"


def test_table_ends_at_a_blank_line() -> None:
    md = "| a |\n|---|\n| 1 |\n\nafter **text**"
    assert markdown_to_mrkdwn(md) == "```\na\n-\n1\n```\n\nafter *text*"


@pytest.mark.parametrize(
    "md",
    [
        "a | b",  # no delimiter row (yet)
        "| a | b |\n| c | d |",
        "| a | b |\n|---|",  # column counts differ
    ],
)
def test_pipes_without_a_table_are_text(md: str) -> None:
    assert "```" not in markdown_to_mrkdwn(md)


@pytest.mark.parametrize(
    ("md", "expected"),
    [
        ("a & b", "a &amp; b"),
        ("a < b > c", "a &lt; b &gt; c"),
        ("<@U123> <!channel>", "&lt;@U123&gt; &lt;!channel&gt;"),
        ("<b>html</b>", "&lt;b&gt;html&lt;/b&gt;"),
        ("&amp;", "&amp;"),  # an entity, decoded and escaped again
        ("&copyright", "&amp;copyright"),  # no `;`: not an entity
        ("\\*not italic\\*", "\u200b*\u200bnot italic\u200b*\u200b"),
        ("back\\slash", "back\\slash"),
        ("a\r\nb", "a\nb"),
        ("", ""),
        ("\n\n", "\n\n"),
    ],
)
def test_escaping_and_plain_text(md: str, expected: str) -> None:
    assert markdown_to_mrkdwn(md) == expected


@pytest.mark.parametrize(("text", "expected"), [("&<>", "&amp;&lt;&gt;"), ("plain", "plain"), ("", "")])
def test_escape_mrkdwn(text: str, expected: str) -> None:
    assert escape_mrkdwn(text) == expected


def test_a_typical_answer() -> None:
    md = (
        "## Setup\n\nInstall it with **pip**:\n\n```bash\npip install x && echo ok\n```\n\n"
        "Then:\n1. Run `x --help`\n2. Read [the docs](https://x.io/docs)\n\n---\n> Tip: *enjoy*"
    )
    assert markdown_to_mrkdwn(md) == (
        "*Setup*\n\nInstall it with *pip*:\n\n```\npip install x &amp;&amp; echo ok\n```\n\n"
        f"Then:\n1. Run `x --help`\n2. Read <https://x.io/docs|the docs>\n\n{RULE}\n> Tip: _enjoy_"
    )


# -- properties ----------------------------------------------------------------------------------

markdownish = st.text(alphabet="ab *_~`#->[]()<&|\\:/.\n \t!123", max_size=300)
# Without fences, tables or links, each output line depends only on the lines up to it.
streamable = st.text(alphabet="ab *_#->\n \t!1.x&", max_size=200)


@settings(max_examples=400)
@given(st.text(max_size=300))
def test_any_text_converts(md: str) -> None:
    assert isinstance(markdown_to_mrkdwn(md), str)


@settings(max_examples=400)
@given(markdownish)
def test_markdown_like_text_converts(md: str) -> None:
    markdown_to_mrkdwn(md)


@settings(max_examples=300)
@given(markdownish)
def test_code_blocks_are_always_closed(md: str) -> None:
    lines = markdown_to_mrkdwn(md.replace("~", "")).split("\n")
    assert sum(line == "```" for line in lines) % 2 == 0


@settings(max_examples=300)
@given(st.text(alphabet="ab *_~`#->|&\n \t", max_size=300))
def test_slack_control_characters_are_always_escaped(md: str) -> None:
    out = markdown_to_mrkdwn(md)
    assert "<" not in out
    assert all(">" not in line.removeprefix(">") for line in out.split("\n"))
    assert not re.search(r"&(?!amp;|lt;|gt;)", out)


# A setext underline rewrites the paragraph above it into a heading, as a table's delimiter row
# rewrites its header; tests/bot/text/test_mrkdwn_models.py covers that look-back on its own.
_UNDERLINE = re.compile(r"^ {0,3}-+[ \t]*$", re.MULTILINE)


@settings(max_examples=300)
@given(streamable, streamable)
def test_earlier_lines_do_not_change_as_more_text_arrives(head: str, tail: str) -> None:
    assume(not _UNDERLINE.search(head + tail))
    before = markdown_to_mrkdwn(head).split("\n")
    after = markdown_to_mrkdwn(head + tail).split("\n")
    assert after[: len(before) - 1] == before[:-1]


@settings(max_examples=300)
@given(st.text(alphabet="ab *_~`[]()\\", max_size=80), st.text(alphabet="ab *_~`[]()\\", max_size=80))
def test_inline_formatting_never_spans_lines(first: str, second: str) -> None:
    # "x " keeps both lines plain paragraphs, so only inline markup is in play.
    first, second = f"x {first}", f"x {second}"
    assert markdown_to_mrkdwn(f"{first}\n{second}") == (
        f"{markdown_to_mrkdwn(first)}\n{markdown_to_mrkdwn(second)}"
    )


@pytest.mark.parametrize(
    "md",
    [
        *(
            unit * (15_000 // len(unit))
            for unit in ["*a ", "_a_b ", "*_", "[a](", "[", "`a ``b ", "<", "_*a"]
        ),
        *(unit * (15_000 // len(unit)) for unit in ["a** b*", "https://a.b/)", "| a ", "![", "[a]", "~~a "]),
        "[a](" + " " * 15_000 + "x",
        "# a" + " " * 15_000 + "x",
        "<a@" + "a-" * 7_500 + "!",
        "a | b\n|:" + "-" * 7_000 + ":" + " " * 7_000 + "x",
        "- " * 7_500 + "x",
        *(
            unit * (15_000 // len(unit))
            for unit in ["<!--", "<!---->", "<br>", "&copy;", "&#x", "\\*", "**a**b"]
        ),
        *(unit * (15_000 // len(unit)) for unit in ["a\n", "a\n=\n", "> a\nb\n", "[a]: x\n", "<!--\n"]),
        "[r]: https://x.io\n" + "[a][r]" * 2_500,
        "[r]: https://x.io\n" + "[" * 15_000,
        "[r]: " + "x" * 15_000 + ' "',
        "| a |\n|---|\n| " + "x<br>" * 3_000 + " |",
    ],
)
def test_large_pathological_input_is_fast(md: str) -> None:
    # A guard against quadratic (or worse) blow-ups, not a speed measurement (bench/ measures
    # speed): linear work on these inputs takes well under 0.1 s; quadratic work, minutes.
    started = time.perf_counter()
    markdown_to_mrkdwn(md)
    assert time.perf_counter() - started < 5.0
