"""The tools a knowledge-enabled answer offers the model, for searches beyond what retrieval
already put in the prompt: `search_messages(query, channel?, since?)` and `get_thread(permalink)`.

Both go through `Knowledge`, so they see exactly what retrieval sees: the own index, filtered
by the answer's `Audience` (what the asker may see, narrowed to what everyone reading the answer
may see). A thread that exists but may not be shown and one that does not exist get the same
answer, so a tool cannot tell the model (or the channel) that a private thread is there. Every
thread a tool returns is numbered in the answer's `Citations`, so it can be cited and listed
under Sources like a retrieved one. Bad arguments are answered as a tool error the model can
correct, never raised; results leave through `Outbound`, redacted like the rest of the prompt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from bot.core.knowledge import Asking, Citations, Knowledge
from bot.core.outbound import REDACTED_NOTE, Outbound
from bot.llm.tools import ToolCall, function_tool, parse_arguments, tool_message
from bot.slack.renderer import Reply
from bot.stores.channel_settings import Effective
from bot.text.knowledge_prompt import NOT_FOUND, search_result, thread_result
from bot.text.user_input import parse_message_link, parse_since, same_workspace

SEARCH: Final = "search_messages"
GET_THREAD: Final = "get_thread"
SEARCH_LIMIT: Final = 5  # threads in one search result
STATUS_QUERY_CHARS: Final = 60

SPECS: Final = (
    function_tool(
        SEARCH,
        "Search earlier Slack conversations of this workspace (the ones you may show here) by "
        "keywords. Use it when the question is about something the team discussed and the "
        "conversations already quoted do not answer it.",
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Keywords, e.g. 'staging database password'."},
                "channel": {"type": "string", "description": "Only this channel, e.g. '#ops'."},
                "since": {
                    "type": "string",
                    "description": "Only threads started after this date (YYYY-MM-DD) or period ago (30d).",
                },
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    ),
    function_tool(
        GET_THREAD,
        "Read one whole thread by its permalink (from a search result or the conversation).",
        {
            "type": "object",
            "properties": {"permalink": {"type": "string", "description": "The thread's Slack link."}},
            "required": ["permalink"],
            "additionalProperties": False,
        },
    ),
)


class KnowledgeTools:
    """One answer's tools: bound to who asks and where the answer is read."""

    specs: Sequence[dict[str, object]] = SPECS

    def __init__(
        self,
        *,
        knowledge: Knowledge,
        asking: Asking,
        citations: Citations,
        outbound: Outbound,
        workspace_url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._knowledge = knowledge
        self._asking = asking
        self._audience = knowledge.audience(asking)
        self._citations = citations
        self._outbound = outbound
        self._workspace_url = workspace_url
        self._clock = clock

    def offered(self, config: Effective) -> bool:
        """Where team knowledge is on (the channel's setting) and someone asked."""
        return config.knowledge and self._knowledge.threads > 0 and bool(self._asking.asker)

    async def run(self, calls: Sequence[ToolCall], reply: Reply) -> list[dict[str, str]]:
        """Each call's result as a `tool` message, in the order of the calls, redacted."""
        results = [tool_message(call, await self._one(call, reply)) for call in calls]
        redacted = self._outbound.redacted
        out = self._outbound.messages(results)
        if self._outbound.redacted > redacted:
            reply.footnote(REDACTED_NOTE)
        return out

    async def _one(self, call: ToolCall, reply: Reply) -> str:
        try:
            arguments = parse_arguments(call)
            if call.name == SEARCH:
                return await self._search(arguments, reply)
            if call.name == GET_THREAD:
                return await self._get_thread(arguments, reply)
            raise ValueError(f"there is no tool named “{call.name}” (the tools: {SEARCH}, {GET_THREAD})")
        except ValueError as exc:
            return f"Error: {exc}. Fix the call, or answer without it."

    async def _search(self, arguments: dict[str, Any], reply: Reply) -> str:
        query = _text(arguments, "query", required=True)
        wanted, since_text = _text(arguments, "channel"), _text(arguments, "since")
        since = parse_since(since_text, now=self._clock()) if since_text else None
        channel = name = None
        if wanted:
            channel = await self._knowledge.channel_named(self._asking, self._audience, wanted)
            if channel is None:
                reply.status(f"_Searching for “{_shown(query)}”…_")
                return f"No channel “{wanted}” that can be searched here. Search without `channel`."
            view = await self._audience.view(channel)
            name = view.name if view is not None else None
        reply.status(f"_Searching {f'#{name} ' if name else ''}for “{_shown(query)}”…_")
        found = await self._knowledge.search(
            self._asking, self._audience, query, channel=channel, since=since, limit=SEARCH_LIMIT
        )
        return search_result(query, [self._citations.add(s) for s in found], channel_name=name)

    async def _get_thread(self, arguments: dict[str, Any], reply: Reply) -> str:
        permalink = _text(arguments, "permalink", required=True)
        try:
            link = parse_message_link(permalink)
        except ValueError:
            raise ValueError("“permalink” is not a link to a Slack message") from None
        if self._workspace_url and not same_workspace(link, self._workspace_url):
            return NOT_FOUND
        source = await self._knowledge.thread(self._asking, self._audience, link.channel, link.root_ts)
        where = f" in #{source.channel_name}" if source is not None else ""
        reply.status(f"_Reading a thread{where}…_")
        return thread_result(self._citations.add(source) if source is not None else None)


def _text(arguments: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = arguments.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"“{name}” must be a non-empty string" if required else f"“{name}” must be a string")
    return value.strip()


def _shown(query: str) -> str:
    """The query as the placeholder shows it: one line, short, no Slack markup."""
    line = " ".join(query.split())
    if len(line) > STATUS_QUERY_CHARS:
        line = line[: STATUS_QUERY_CHARS - 1] + "…"
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("_", " ")
