"""The fake's shared files: `files.info`, and downloads of `url_private` / `url_private_download`.

As on Slack, a download needs `Authorization: Bearer <bot token>`; without it (or with a wrong
one) Slack answers 200 with its HTML sign-in page, not an error. A file the bot may not open
answers 403, an unknown one 404. A Slack Connect file shared by another organization shows in
messages only as `{"id", "mode": "file_access", "file_access": "check_file_info"}`; files.info then
describes it when the bot may open it, else answers `file_not_found`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.slack.params import Params, SlackError, bearer, required

SIGN_IN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class StoredFile:
    info: Params
    content: bytes
    denied: bool = False  # downloads answer 403 (files.info still describes it)
    connect: bool = False  # shared from another organization: messages carry only check_file_info
    hidden: bool = False  # with `connect`: files.info answers file_not_found
    redirect_to: str | None = None  # downloads answer 302 to this URL instead


@dataclass
class Download:
    path: str
    authorized: bool
    status: int


@dataclass
class Files:
    """The workspace's files, and the downloads asked of them (for tests to inspect)."""

    bot_token: str
    team_id: str
    stored: dict[str, StoredFile] = field(default_factory=dict)
    downloads: list[Download] = field(default_factory=list)

    def add(
        self,
        base_url: str,
        id: str,
        name: str,
        content: bytes | str,
        *,
        filetype: str = "text",
        mimetype: str = "text/plain",
        pretty_type: str = "Plain Text",
        mode: str = "hosted",
        alt_txt: str | None = None,
        denied: bool = False,
        connect: bool = False,
        hidden: bool = False,
        redirect_to: str | None = None,
    ) -> Params:
        data = content.encode() if isinstance(content, str) else content
        info: Params = {
            "id": id,
            "created": 1_700_000_000,
            "timestamp": 1_700_000_000,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": pretty_type,
            "user": "U1",
            "user_team": self.team_id,
            "editable": mode == "snippet",
            "size": len(data),
            "mode": mode,
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base_url}/files-pri/{self.team_id}-{id}/{name}",
            "url_private_download": f"{base_url}/files-pri/{self.team_id}-{id}/download/{name}",
            "permalink": f"https://fake.slack.com/files/U1/{id}/{name}",
            "is_starred": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if alt_txt is not None:
            info["alt_txt"] = alt_txt
        self.stored[id] = StoredFile(info, data, denied, connect, hidden, redirect_to)
        return self.in_message(id)

    def in_message(self, id: str) -> Params:
        """The file as a message event carries it (Slack Connect files: only a pointer)."""
        stored = self.stored[id]
        if stored.connect:
            return {
                "id": id,
                "mode": "file_access",
                "file_access": "check_file_info",
                "created": 0,
                "timestamp": 0,
                "user": "",
            }
        return copy.deepcopy(stored.info)

    def files_info(self, params: Params) -> Params:
        stored = self.stored.get(required(params, "file", "file_not_found"))
        if stored is None or stored.hidden:
            raise SlackError("file_not_found")
        return {"file": copy.deepcopy(stored.info), "comments": [], "response_metadata": {"next_cursor": ""}}

    async def download(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        team, _, id = key.partition("-")
        authorized = bearer(request.headers.get("Authorization")) == self.bot_token
        stored = self.stored.get(id) if team == self.team_id else None
        if not authorized:
            response: web.StreamResponse = web.Response(body=SIGN_IN_PAGE, content_type="text/html")
        elif stored is None:
            response = web.Response(status=404, text="Not Found")
        elif stored.denied:
            response = web.Response(status=403, text="Forbidden")
        elif stored.redirect_to is not None:
            response = web.Response(status=302, headers={"Location": stored.redirect_to})
        else:
            response = web.Response(body=stored.content, content_type=str(stored.info["mimetype"]))
        self.downloads.append(Download(request.path, authorized, response.status))
        return response
