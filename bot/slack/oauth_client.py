"""A Web API client for the OAuth exchange that sends the client credentials itself.

slack-sdk's `oauth_v2_access` builds HTTP Basic auth with aiohttp's `BasicAuth`, deprecated in
aiohttp 3.13 and gone in 4.0; this client sends the same `Authorization: Basic …` header (what
Slack recommends for `oauth.v2.access`) without it. Used by Bolt's install flow and by `doctor`.
"""

from __future__ import annotations

import base64
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse


def basic_auth(client_id: str, client_secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class OAuthClient(AsyncWebClient):
    async def oauth_v2_access(
        self,
        *,
        client_id: str,
        client_secret: str,
        code: str | None = None,
        redirect_uri: str | None = None,
        **kwargs: Any,
    ) -> AsyncSlackResponse:
        data = {**kwargs, "code": code, "redirect_uri": redirect_uri}
        return await self.api_call(
            "oauth.v2.access",
            data={k: v for k, v in data.items() if v is not None},
            headers={"Authorization": basic_auth(client_id, client_secret)},
        )
