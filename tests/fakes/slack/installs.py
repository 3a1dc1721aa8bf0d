"""The fake's other workspaces and its OAuth side: `oauth.v2.access`, codes, revoked tokens.

Slack's install flow, as the fake plays it: an admin approves the app on Slack's authorize page
and Slack sends the browser back to the app's redirect URL with a one-time `code`; tests stand in
for that page with `grant(team_id)`, which returns the code. The app exchanges it with
`oauth.v2.access` (client id and secret by HTTP Basic auth, as slack-sdk sends them, or as form
fields) for the workspace's bot token. Each workspace is a `WebApi` of its own (users, channels,
messages, bot identity), and a call goes to the workspace whose bot token it carries.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field

from tests.fakes.slack.methods import WebApi
from tests.fakes.slack.params import Params, SlackError

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "fake-client-secret-0123456789abcdef"  # noqa: S105 - the fake's own test value


@dataclass
class Installs:
    """Workspaces by bot token, pending codes, and the app's client credentials."""

    app_id: str
    scopes: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    by_token: dict[str, WebApi] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    _codes: dict[str, tuple[WebApi, str, str]] = field(default_factory=dict)  # code → team, token, installer

    def grant(self, team: WebApi, token: str, installer: str) -> str:
        """A one-time code, as Slack's authorize page hands the browser back with it."""
        code = f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        self._codes[code] = (team, token, installer)
        return code

    def revoke(self, token: str) -> None:
        """Slack revokes a workspace's tokens when it uninstalls the app."""
        self.by_token.pop(token, None)
        self.revoked.add(token)

    def oauth_v2_access(self, params: Params, basic: tuple[str, str] | None) -> Params:
        """https://docs.slack.dev/reference/methods/oauth.v2.access, for a bot-only install."""
        client_id, secret = basic or (params.get("client_id"), params.get("client_secret"))
        if client_id != self.client_id:
            raise SlackError("invalid_client_id")
        if secret != self.client_secret:
            raise SlackError("bad_client_secret")
        granted = self._codes.pop(str(params.get("code") or ""), None)  # a code works once
        if granted is None:
            raise SlackError("invalid_code")
        team, token, installer = granted
        self.by_token[token] = team
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": self.scopes,
            "bot_user_id": team.bot_user_id,
            "app_id": self.app_id,
            "team": {"name": team.team_name, "id": team.team_id},
            "enterprise": None,
            "authed_user": {"id": installer},
            "is_enterprise_install": False,
        }


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """(client id, secret) from `Authorization: Basic …`, or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None
