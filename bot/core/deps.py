"""What listeners need, passed in explicitly (never reached as globals or Bolt context keys)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answerer import Answerer
from bot.core.tasks import TaskTracker
from bot.llm.client import RelayDanceClient
from bot.settings import Settings
from bot.slack.reads import BotIdentity
from bot.slack.users import UserDirectory
from bot.stores.history import HistoryStore
from bot.stores.records import Records


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    slack: AsyncWebClient
    store: HistoryStore
    records: Records
    answerer: Answerer
    llm: RelayDanceClient
    names: UserDirectory
    tasks: TaskTracker
    identity: BotIdentity
