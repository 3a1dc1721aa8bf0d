"""The prompt of a chat answer: the conversation up to the question, as turns within the budget."""

from __future__ import annotations

from bot.core.context import ConversationReader
from bot.core.knowledge import Asking, Citations, Knowledge, fitting, insert, withhold
from bot.core.question import PromptBuilder, Question, within
from bot.model import StoredMessage
from bot.slack.identity import Identity
from bot.slack.renderer import Reply
from bot.stores.channel_settings import Effective
from bot.text.knowledge_prompt import knowledge_block
from bot.text.prompt import MIN_BUDGET_TOKENS, Turn, build_messages, estimate_tokens
from bot.text.slack_markup import slack_to_plain


def chat_prompt(
    reader: ConversationReader,
    identity: Identity,
    question: Question,
    *,
    budget_tokens: int,
    knowledge: Knowledge | None = None,
    citations: Citations | None = None,
) -> PromptBuilder:
    async def build(_: Reply, config: Effective, limit: int | None) -> list[dict[str, str]]:
        history = await reader.read(question.conversation, question.message)
        names = await reader.names(question.conversation.team, history)
        turns = [_turn(m, names, identity) for m in history]
        sources = []
        if knowledge is not None and config.knowledge and question.asked_by:
            conv = question.conversation
            found = await knowledge.retrieve(
                Asking(
                    team=conv.team,
                    asker=question.asked_by,
                    posted_in=conv.channel,
                    text=question.message.text,
                    exclude=frozenset({(conv.channel, conv.thread_ts or question.message.ts)}),
                    action_token=question.action_token,
                )
            )
            sources = withhold(found, citations)
        # The conversation keeps the budget the past threads leave.
        budget = within(budget_tokens, limit)
        if limit is not None:  # a retry: the conversation before past threads
            sources = fitting(sources, budget)
        room = budget - (estimate_tokens(knowledge_block(sources)) if sources else 0)
        messages = build_messages(
            config.system_prompt,
            [t for t in turns if t.text.strip()],
            budget_tokens=max(room, MIN_BUDGET_TOKENS),
        )
        return insert(messages, sources, citations)

    return build


def _turn(message: StoredMessage, names: dict[str, str], identity: Identity) -> Turn:
    if message.own:
        return Turn(role="assistant", text=message.text)
    author = names.get(message.user or "", message.user) if message.user else "a bot"
    return Turn(
        role="user",
        text=slack_to_plain(message.text, names=names, bot_user_id=identity.user_id),
        author=author,
    )
