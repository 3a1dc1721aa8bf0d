"""The model's search tools end to end: a signed mention goes in, the fake RelayDance asks for a
tool call streamed in pieces, the bot runs it over its own index with the same permission filter
as retrieval, sends the result back as a `tool` message, and the answer it then streams ends
with the threads it used under Sources."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis

from tests.e2e_harness import BotUnderTest, bot_under_test, make_settings
from tests.fakes.relaydance import Call, FakeRelayDance, Script, last_message
from tests.fakes.signing import app_mention, message_event
from tests.fakes.slack import FakeSlack
from tests.handlers.test_knowledge import OLD, final_text, ops_thread, said

OPS_LINK = f"https://fake.slack.com/archives/COPS/p{OLD.replace('.', '')}"
VAGUE = "<@UBOT> what did we settle on for that thing?"  # retrieval finds nothing for this


def search(query: str, **more: str) -> Call:
    return Call("search_messages", json.dumps({"query": query, **more}, ensure_ascii=True))


def tool_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def play(relay: FakeRelayDance, first: Script, answer: Script) -> None:
    """Every request from now on: call tools first; once the last message is a tool result, answer."""
    relay.default = Script.decide(lambda body: answer if last_message(body)["role"] == "tool" else first)


def all_slack_text(bot: BotUnderTest) -> str:
    return json.dumps([c.params for c in bot.slack.calls], ensure_ascii=False)


async def test_a_search_call_split_across_chunks_is_run_and_its_thread_cited(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    call = Script.tool_calls(
        search("staging database password", channel="#ops"), arg_split=(1, 2, 3), split=(7, 11)
    )
    answer = Script.stream(["Every 90 days, ", "by the vault job [1]."], first_delay=0.4)
    play(bot.relay, call, answer)
    await bot.send(app_mention(text=VAGUE, user="U1"))
    await bot.answered()

    first, second = bot.relay.requests
    assert [t["function"]["name"] for t in first.json["tools"]] == ["search_messages", "get_thread"]
    assert first.json["tool_choice"] == "auto"
    assert not any(m["content"].startswith("Earlier conversations") for m in first.json["messages"])
    assistant = second.json["messages"][-2]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    [made] = assistant["tool_calls"]
    assert json.loads(made["function"]["arguments"]) == {
        "query": "staging database password",
        "channel": "#ops",
    }
    [result] = tool_results(second.json)
    assert second.json["messages"][-1]["tool_call_id"] == made["id"]
    assert f"<<<source 1 · #ops · 2025-11-13 · {OPS_LINK}>>>" in result
    assert "Every 90 days; the vault job does it, marker kx01" in result and "lunch" not in result
    # The placeholder said what it was doing while the model read the result.
    updates = [str(c.params.get("text")) for c in bot.slack.calls_to("chat.update")]
    assert any("Searching #ops for “staging database password”…" in t for t in updates)
    text = await final_text(bot)
    assert text.startswith("Every 90 days, by the vault job [1].")
    assert "*Sources:*" in text and f"<{OPS_LINK}|#ops, 2025-11-13>" in text


async def test_get_thread_reads_a_thread_and_retrieved_sources_keep_their_numbers(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    token = "xoxb-" + "1234567890-abcdefghij"
    await said(
        bot, "COPS", f"The vault job runs on the ops runner with {token}, marker kx05", ts="1763100000.000100"
    )
    link = "https://fake.slack.com/archives/COPS/p1763100000000100"
    call = Script.tool_calls(
        Call("get_thread", json.dumps({"permalink": f"<{link}>"})), text=["Let me read that thread."]
    )
    play(bot.relay, call, Script.stream(["Every 90 days [1], on the ops runner [2]."]))
    await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U1"))
    await bot.answered()

    retrieved = bot.relay.requests[0].json["messages"][-2]["content"]
    assert "<<<source 1 · #ops" in retrieved and "marker kx01" in retrieved  # retrieval first
    assert "kx05" not in retrieved  # only the tool brings it (and its token)
    [result] = tool_results(bot.relay.requests[1].json)
    assert f"<<<source 2 · #ops · 2025-11-14 · {link}>>>" in result and "marker kx05" in result
    assert token not in result  # tool results are redacted like the prompt
    assert bot.relay.requests[1].json["messages"][-2]["content"] == "Let me read that thread."
    text = await final_text(bot)
    assert text.startswith("Let me read that thread.\n\nEvery 90 days [1], on the ops runner [2].")
    assert f"1. <{OPS_LINK}|#ops, 2025-11-13>" in text and f"2. <{link}|#ops, 2025-11-14>" in text
    assert "redacted before it was sent" in text


async def test_the_step_cap_makes_the_model_answer(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, max_tool_steps=2)
    async with bot_under_test(slack, relay, settings) as bot:
        await ops_thread(bot)
        # A model that would search forever; once told "none" it answers.
        relay.default = Script.decide(
            lambda body: (
                Script.stream(["Enough searching [1]."])
                if body.get("tool_choice") == "none"
                else Script.tool_calls(search("database password"), arg_split=5)
            )
        )
        await bot.send(app_mention(text=VAGUE, user="U1"))
        await bot.answered()
        choices = [r.json.get("tool_choice") for r in relay.requests]
        assert choices == ["auto", "auto", "none"]
        assert "tools" in relay.requests[-1].json  # still listed: the conversation refers to them
        assert len(tool_results(relay.requests[-1].json)) == 2
        text = await final_text(bot)
        assert text.startswith("Enough searching [1].") and f"<{OPS_LINK}|#ops, 2025-11-13>" in text


async def test_a_private_thread_the_asker_cannot_see_is_not_found_and_never_shown(bot: BotUnderTest) -> None:
    bot.slack.add_channel("GSEC", name="secops", is_private=True, members=["U1", "UBOT"])
    await said(
        bot, "GSEC", "The staging database password is in vault kv/stg, marker kx03", user="U1", ts=OLD
    )
    secret_link = f"https://fake.slack.com/archives/GSEC/p{OLD.replace('.', '')}"
    bot.slack.add_channel("D2", user="U2")
    calls = Script.tool_calls(
        Call("get_thread", json.dumps({"permalink": secret_link})),
        search("staging database password location"),
        search("database password", channel="#secops"),
        interleave=True,
    )
    play(bot.relay, calls, Script.stream(["I couldn't find that."], first_delay=0.3))
    dm = message_event(text="where is the staging db password?", user="U2", channel="D2", channel_type="im")
    await bot.send(dm)
    await bot.answered()

    results = tool_results(bot.relay.requests[1].json)
    assert results[0] == "No such thread, or not one that can be shown here."
    assert results[1].startswith("No threads found for “staging database password location”")
    assert results[2].startswith("No channel “#secops” that can be searched here.")
    assert "kx03" not in json.dumps(bot.relay.requests[1].json) and "kv/stg" not in "".join(results)
    slack_text = all_slack_text(bot)  # every Web API call the bot made: statuses, the answer
    assert "secops" not in slack_text and "kx03" not in slack_text
    assert "Sources" not in await final_text(bot, "D2")
    # A member asking the same in their own DM gets it: the refusal above was the filter's.
    bot.slack.add_channel("D1", user="U1")
    play(bot.relay, calls, Script.stream(["In vault [1]."]))
    await bot.send(message_event(text="where is it?", user="U1", channel="D1", channel_type="im"))
    await bot.answered(2)
    results = tool_results(bot.relay.requests[3].json)
    assert "marker kx03" in results[0] and "#secops" in results[0]


async def test_malformed_arguments_go_back_to_the_model_as_an_error(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    broken = Script.tool_calls(
        Call("search_messages", '{"query": "staging database pass'),
        Call("read_minds", "{}"),
        Call("search_messages", '{"query": 42}'),
        Call("search_messages", '{"query": "password", "since": "last tuesday"}'),
        Call("get_thread", '{"permalink": "not a link"}'),
    )
    play(bot.relay, broken, Script.stream(["Sorry, my search failed."]))
    await bot.send(app_mention(text=VAGUE, user="U1"))
    await bot.answered()

    results = tool_results(bot.relay.requests[1].json)
    assert len(results) == 5 and all(r.startswith("Error: ") for r in results)
    assert "not valid JSON" in results[0] and "no tool named “read_minds”" in results[1]
    assert "“query” must be a non-empty string" in results[2] and "last tuesday" in results[3]
    assert "not a link to a Slack message" in results[4]
    text = await final_text(bot)
    assert text.startswith("Sorry, my search failed.") and "went wrong" not in text


async def test_since_and_channel_narrow_a_search(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    bot.slack.add_channel("CENG", name="eng")
    await said(bot, "CENG", "staging database password rotation moved to 30 days", ts="1764000000.000100")
    calls = Script.tool_calls(
        search("staging database password", since="2025-11-20"),
        search("staging database password", channel="<#CENG|eng>"),
        search("staging database password", since="3650d"),
        search("<!channel> db_password"),  # the model's words, shown in the placeholder
    )
    play(bot.relay, calls, Script.stream(["30 days now [1]."], first_delay=0.4))
    await bot.send(app_mention(text=VAGUE, user="U1"))
    await bot.answered()
    newer, in_eng, both, _ = tool_results(bot.relay.requests[1].json)
    assert "#eng" in newer and "#ops" not in newer
    assert "in #eng" in in_eng and "#ops" not in in_eng
    assert "#eng" in both and "#ops" in both
    updates = [str(c.params.get("text")) for c in bot.slack.calls_to("chat.update")]
    assert any("_Searching for “&lt;!channel&gt; db password”…_" in t for t in updates)
    assert not any("<!channel>" in t for t in updates)
    assert "Sources" in await final_text(bot)


async def test_a_model_that_ignores_tools_still_answers_from_retrieval(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    bot.relay.push(Script.stream(["Every 90 days [1]."]))  # plain text, whatever tools it was offered
    await bot.send(app_mention(text="<@UBOT> how often is the staging database password rotated?", user="U1"))
    await bot.answered()
    assert len(bot.relay.requests) == 1 and "tools" in bot.relay.requests[0].json
    assert "Sources" in await final_text(bot)


async def test_tools_off_and_the_channel_setting_offer_none(
    slack: FakeSlack, relay: FakeRelayDance, redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    settings = make_settings(slack, relay, redis_url=redis_url, prefix=redis_prefix, tools="off")
    async with bot_under_test(slack, relay, settings) as bot:
        await bot.send(app_mention(text="<@UBOT> hello", user="U1"))
        await bot.answered()
        assert "tools" not in relay.requests[0].json and "tool_choice" not in relay.requests[0].json


async def test_ask_offers_the_tools(bot: BotUnderTest) -> None:
    await ops_thread(bot)
    call = Script.tool_calls(search("vault job"))
    play(bot.relay, call, Script.stream(["The vault job [1]."]))
    assert (await bot.command("/ask", "who rotates it?")).status_code == 200
    await bot.answered()
    [result] = tool_results(bot.relay.requests[1].json)
    assert "marker kx01" in result
    post = [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("thread_ts")][-1]
    assert "#ops, 2025-11-13" in str(bot.slack.message("C1", post.response["ts"])["text"])
