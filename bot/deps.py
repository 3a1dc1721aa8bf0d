"""What listeners need, passed in explicitly (never reached as globals or Bolt context keys)."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.answer import Answerer
from bot.history import HistoryStore
from bot.settings import Settings
from bot.slack_history import BotIdentity
from bot.tasks import TaskTracker


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    slack: AsyncWebClient
    store: HistoryStore
    answerer: Answerer
    tasks: TaskTracker
    identity: BotIdentity
