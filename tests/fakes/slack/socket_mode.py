"""Socket Mode: the websocket `apps.connections.open` hands out, envelopes sent down it, acks back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.slack.params import Params


class SocketMode:
    """The websockets of Socket Mode clients; `notify` is awaited whenever something changes."""

    def __init__(self, *, app_id: str, notify: Callable[[], Awaitable[None]]) -> None:
        self.app_id = app_id
        self.acks: dict[str, Params] = {}
        """Socket Mode acknowledgements received: envelope_id → what the client sent."""
        self.messages: list[Params] = []
        """Everything clients sent over the websockets, in order."""
        self.connections = 0
        """How many Socket Mode websockets have been opened so far."""
        self._notify = notify
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    def new_ticket(self) -> str:
        """A single-use ticket for the websocket URL `apps.connections.open` answers."""
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return ticket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`GET /link/?ticket=…`: upgrade to a websocket, say `hello`, then record what arrives."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(timeout=1.0)  # autoping answers slack_sdk's pings
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": "fake-applink-1",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(ws)
        self.connections += 1
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = {"unparsed": msg.data}
                self.messages.append(data)
                if isinstance(data, dict) and "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    async def send_envelope(
        self,
        type_: str,
        payload: Params,
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an envelope (`events_api`, `slash_commands`, `interactive`); returns its envelope_id."""
        ws = self._socket()
        envelope_id = str(uuid.uuid4())
        envelope: Params = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        if type_ == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        await ws.send_json(envelope)
        return envelope_id

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        await self._socket().send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-applink-1"}}
        )

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")

    def _socket(self) -> web.WebSocketResponse:
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode client is connected")
        return open_sockets[-1]
