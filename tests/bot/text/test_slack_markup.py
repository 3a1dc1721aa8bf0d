from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.slack_markup import mentioned_user_ids, mentions_user, referenced_ids, slack_to_plain

NAMES = {"U1": "Alice", "U2": "Bob"}
BOT = "UBOT"


def plain(text: str) -> str:
    return slack_to_plain(text, names=NAMES, bot_user_id=BOT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U1> hi", "@Alice hi"),
        ("ask <@U2>", "ask @Bob"),
        ("<@U9>", "@U9"),
        ("<@U9|carol>", "@carol"),
        ("<@U1|alice>", "@Alice"),  # the current display name wins over the token's label
        ("<@W123>", "@W123"),
        ("<#C1|general>", "#general"),
        ("<#C1>", "#C1"),
        ("<#C1|>", "#C1"),
        ("<!here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!here|@here>", "@here"),
        ("<!subteam^S1|@team>", "@team"),
        ("<!subteam^S1|team>", "@team"),
        ("<!subteam^S1>", "@S1"),
        ("<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"),
        ("<!date^1392734382^{date}>", "2014-02-18 14:39 UTC"),
        ("<!date^soon^{date}>", ""),
        ("<!unknown>", "@unknown"),
        ("<https://x.io|text>", "text (https://x.io)"),
        ("<https://x.io>", "https://x.io"),
        ("<https://x.io|https://x.io>", "https://x.io"),
        ("<https://x.io/?a=1&amp;b=2|Q &amp; A>", "Q & A (https://x.io/?a=1&b=2)"),
        ("<mailto:a@b.io|a@b.io>", "a@b.io"),
        ("<mailto:a@b.io|Write us>", "Write us (a@b.io)"),
        ("<tel:+123|call>", "call (tel:+123)"),
        ("<odd>", "odd"),
    ],
)
def test_tokens(text: str, expected: str) -> None:
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a &lt; b &gt; c &amp; d", "a < b > c & d"),
        ("&amp;lt;", "&lt;"),  # unescaped once, not twice
        ("&quot; &nbsp;", "&quot; &nbsp;"),  # Slack escapes only these three
        ("if (a &lt; b) { x(); }", "if (a < b) { x(); }"),
        ("```a &amp;&amp; b```", "```a && b```"),
        ("no markup", "no markup"),
        ("", ""),
        ("  padded \n", "padded"),
        ("unclosed < token", "unclosed < token"),
    ],
)
def test_entities_and_plain_text(text: str, expected: str) -> None:
    assert plain(text) == expected


def test_names_are_inserted_verbatim() -> None:
    names = {"U1": "A&amp;B <x>"}
    assert slack_to_plain("<@U1>", names=names, bot_user_id=None) == "@A&amp;B <x>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> what is 2+2?", "what is 2+2?"),
        ("<@UBOT|relay> what is 2+2?", "what is 2+2?"),
        ("hey <@UBOT>, what now", "hey, what now"),
        ("<@UBOT>: summarise", "summarise"),
        ("<@UBOT>, please", "please"),
        ("thanks <@UBOT>!", "thanks!"),
        ("ask <@UBOT> about it", "ask about it"),
        ("ask  <@UBOT>   about it", "ask about it"),
        ("question for <@UBOT>", "question for"),
        ("<@UBOT>", ""),
        ("<@UBOT> <@UBOT> twice", "twice"),
        ("first line\n<@UBOT> second", "first line\nsecond"),
        ("first <@UBOT>\nsecond", "first\nsecond"),
        ("x<@UBOT>y", "xy"),
        ("<@UBOT> ask <@U1>", "ask @Alice"),
    ],
)
def test_own_mention_is_removed(text: str, expected: str) -> None:
    assert plain(text) == expected


def test_without_bot_id_every_mention_is_kept() -> None:
    assert slack_to_plain("<@UBOT> hi", names={}, bot_user_id=None) == "@UBOT hi"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U1> and <@U2|bob> and <@U1>", ["U1", "U2"]),
        ("<@W9> <@U3>", ["W9", "U3"]),
        ("<#C1|general> <!here> <!subteam^S1|@t>", []),
        ("@U1 &lt;@U2&gt;", []),
        ("", []),
    ],
)
def test_mentioned_user_ids(text: str, expected: list[str]) -> None:
    assert mentioned_user_ids(text) == expected


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        ("<@UBOT> hi", "UBOT", True),
        ("<@UBOT|relay> hi", "UBOT", True),
        ("<@UBOTX> hi", "UBOT", False),
        ("<@U1> hi", "UBOT", False),
        ("UBOT", "UBOT", False),
    ],
)
def test_mentions_user(text: str, user: str, expected: bool) -> None:
    assert mentions_user(text, user) is expected


_slackish = st.lists(
    st.one_of(
        st.sampled_from(
            ["<@U1>", "<@UBOT>", "<@UBOT|b>", "<#C1|x>", "<!here>", "&amp;", "&lt;", "<https://x|y>"]
        ),
        st.text(alphabet="ab <>&|@!#\n ,:", max_size=8),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=300)
@given(_slackish)
def test_any_text_converts_and_loses_the_bot_mention(text: str) -> None:
    out = plain(text)
    assert "<@UBOT" not in out
    assert out == out.strip()


@settings(max_examples=200)
@given(st.text(alphabet="ab <>&;|@!#\n", max_size=100))
def test_text_without_markup_only_loses_outer_whitespace(text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert plain(escaped) == text.strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see <#C7>", "see #deploys"),
        ("see <#C7|ops>", "see #ops"),  # Slack's label wins: it is what the author saw
        ("ping <!subteam^S7>", "ping @oncall"),
        ("ping <!subteam^S8> now", "ping a user group now"),
        ("ping <!subteam^S7|@sre>", "ping @sre"),
        ("<#C9> <!subteam^S9>", "#C9 @S9"),  # not looked up: the IDs, as before
    ],
)
def test_channels_and_groups_without_labels_take_their_looked_up_names(text: str, expected: str) -> None:
    names = {"C7": "#deploys", "S7": "@oncall", "S8": "a user group"}
    assert slack_to_plain(text, names=names, bot_user_id=BOT) == expected


def test_referenced_ids_are_the_unlabelled_channels_and_groups() -> None:
    text = "<#C1> <#C1> <#G2> <#C3|named> <!subteam^S1> <!subteam^S2|@x> <@U1> &lt;#C4&gt; <#D5>"
    assert referenced_ids(text) == ["C1", "G2", "S1"]
