"""What listeners need, passed in explicitly (never reached as globals or Bolt context keys)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.answer import Answerer
from bot.history import HistoryStore
from bot.names import UserDirectory
from bot.records import Records
from bot.relaydance import RelayDanceClient
from bot.settings import Settings
from bot.slack_history import BotIdentity
from bot.tasks import TaskTracker


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
