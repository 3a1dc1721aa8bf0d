"""The prompt of a chat answer: the conversation up to the question, as turns within the budget."""

from __future__ import annotations

from bot.core.context import ConversationReader
from bot.core.question import PromptBuilder, Question
from bot.model import StoredMessage
from bot.slack.identity import BotIdentity
from bot.slack.renderer import StreamingReply
from bot.stores.channel_settings import Effective
from bot.text.prompt import Turn, build_messages
from bot.text.slack_markup import slack_to_plain


def chat_prompt(
    reader: ConversationReader, identity: BotIdentity, question: Question, *, budget_tokens: int
) -> PromptBuilder:
    async def build(_: StreamingReply, config: Effective) -> list[dict[str, str]]:
        history = await reader.read(question.conversation, question.message)
        names = await reader.names(question.conversation.team, history)
        turns = [_turn(m, names, identity) for m in history]
        return build_messages(
            config.system_prompt, [t for t in turns if t.text.strip()], budget_tokens=budget_tokens
        )

    return build


def _turn(message: StoredMessage, names: dict[str, str], identity: BotIdentity) -> Turn:
    if message.own:
        return Turn(role="assistant", text=message.text)
    author = names.get(message.user or "", message.user) if message.user else "a bot"
    return Turn(
        role="user",
        text=slack_to_plain(message.text, names=names, bot_user_id=identity.user_id),
        author=author,
    )
