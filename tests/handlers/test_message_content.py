"""End to end: content that lives in attachments, blocks and files reaches the model."""

from __future__ import annotations

import base64
from typing import Any

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import FakeRelayDance, Script
from tests.fakes.signing import app_mention, message_changed, message_event
from tests.fakes.slack import FakeSlack


async def test_a_forwarded_message_above_the_question_reaches_the_model(bot: BotUnderTest) -> None:
    root = message_event(text="FYI", user="U2")
    forwarded = message_event(text="", user="U2", thread_ts=root["ts"])
    forwarded["attachments"] = [
        {
            "is_share": True,
            "author_name": "grace",
            "channel_name": "ops",
            "text": "Staging DB password rotates every 90 days, marker fw01.",
        }
    ]
    for event in (root, forwarded):
        await bot.send(event)
    bot.relay.push(Script.stream(["It says every 90 days."]))
    await bot.send(app_mention(text="<@UBOT> what does the message above say?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "marker fw01" in sent and "Shared message from grace in #ops" in sent


async def test_an_edit_keeps_the_messages_file(bot: BotUnderTest) -> None:
    root = message_event(text="here is the log", user="U2")
    root["files"] = [{"id": "F1", "name": "crash.log", "pretty_type": "Plain Text"}]
    await bot.send(root)
    edit = message_changed(channel="C1", ts=root["ts"], text="here is the crash log", user="U2")
    edit["message"]["files"] = root["files"]
    await bot.send(edit)
    bot.relay.push(Script.stream(["A crash log."]))
    await bot.send(app_mention(text="<@UBOT> what was shared?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "here is the crash log" in sent and "[attached file: crash.log (Plain Text)]" in sent


async def test_a_shared_snippet_is_read_for_the_model(bot: BotUnderTest) -> None:
    root = message_event(text="why does this fail?", user="U2")
    snippet = "for i in range(3):\n    call()  # marker sn01"
    root["files"] = [
        bot.slack.add_file("F2", "retry.py", snippet, filetype="python", pretty_type="Python", mode="snippet")
    ]
    await bot.send(root)
    bot.relay.push(Script.stream(["It never waits between calls."]))
    await bot.send(app_mention(text="<@UBOT> any idea?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "[contents of retry.py (Python)]" in sent and "call()  # marker sn01" in sent
    assert [d.authorized for d in bot.slack.files.downloads] == [True]


async def test_an_edit_that_adds_a_file_is_read_with_it(bot: BotUnderTest) -> None:
    root = message_event(text="config below", user="U2")
    await bot.send(root)
    edit = message_changed(channel="C1", ts=root["ts"], text="config attached", user="U2")
    config = bot.slack.add_file(
        "F3", "app.yaml", "replicas: 3 # marker ed01", filetype="yaml", pretty_type="YAML"
    )
    edit["message"]["files"] = [config]
    await bot.send(edit)
    bot.relay.push(Script.stream(["Three replicas."]))
    await bot.send(app_mention(text="<@UBOT> how many replicas?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "config attached" in sent and "replicas: 3 # marker ed01" in sent


async def test_channels_and_groups_named_by_id_reach_the_model_by_name(bot: BotUnderTest) -> None:
    bot.slack.add_channel("C2", name="deploys")
    bot.slack.add_usergroup("S1", "oncall", "On-call engineers")
    root = message_event(text="", user="U2")
    root["blocks"] = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "moved to "},
                        {"type": "channel", "channel_id": "C2"},
                        {"type": "text", "text": ", ask "},
                        {"type": "usergroup", "usergroup_id": "S1"},
                    ],
                }
            ],
        }
    ]
    await bot.send(root)
    bot.relay.push(Script.stream(["Ask on-call in #deploys."]))
    await bot.send(app_mention(text="<@UBOT> where do I go?", thread_ts=root["ts"]))
    await bot.answered(1)
    sent = str(bot.relay.requests[0].json["messages"])
    assert "moved to #deploys, ask @oncall" in sent


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def mention_with_chart(slack: FakeSlack) -> dict[str, Any]:
    mention = app_mention(text="<@UBOT> what does the chart show?", user="U2")
    chart = slack.add_file(
        "F4", "chart.png", PNG, filetype="png", mimetype="image/png", pretty_type="PNG", alt_txt="Q3 sales"
    )
    mention["files"] = [chart, slack.add_file("F5", "notes.txt", "growth marker im01")]
    return mention


async def test_images_are_named_with_their_alt_text_and_not_downloaded_by_default(bot: BotUnderTest) -> None:
    bot.relay.push(Script.stream(["Sales."]))
    await bot.send(mention_with_chart(bot.slack))
    await bot.answered(1)
    question = bot.relay.requests[0].json["messages"][-1]
    assert isinstance(question["content"], str)
    assert "[attached image: chart.png (PNG); alt text: Q3 sales]" in question["content"]
    assert "growth marker im01" in question["content"]
    assert [d.path for d in bot.slack.files.downloads] == ["/files-pri/T1-F5/download/notes.txt"]


async def test_with_image_input_the_questions_images_go_to_the_model_as_image_url_parts(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, image_input=True)
    async with bot_under_test(slack, relay, settings) as bot:
        bot.relay.push(Script.stream(["Sales grew."]))
        await bot.send(mention_with_chart(slack))
        await bot.answered(1)
    question = relay.requests[0].json["messages"][-1]
    text, image = question["content"]
    assert text["type"] == "text" and "[attached image: chart.png (PNG); alt text: Q3 sales]" in text["text"]
    assert "growth marker im01" in text["text"]
    assert image == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
    }
    assert all(d.authorized for d in slack.files.downloads) and len(slack.files.downloads) == 2
