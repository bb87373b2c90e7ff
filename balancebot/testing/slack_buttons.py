"""The fake Slack's interactive messages: `block_actions` payloads for clicks on buttons
in posted messages (sent as Socket Mode `interactive` envelopes, or built for an HTTP
test to POST as the form field `payload`), and their `response_url`s under `/actions/`,
which replace the original message or answer the clicking user alone (ephemeral)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web


class InteractiveMethods:
    """Mixed into FakeSlack: needs its `posted`, `url` and Socket Mode connection."""

    posted: list[dict[str, Any]]
    url: str

    def _init_interactive(self) -> None:
        self.ephemeral: list[dict[str, Any]] = []  # what only the clicking user saw
        self.replaced: list[dict[str, Any]] = []  # messages replaced through response_url
        self._action_urls: dict[str, tuple[str, str]] = {}  # id → (channel, ts)
        self._interacted = asyncio.Condition()

    async def _send_envelope(self, envelope: dict[str, Any]) -> None:
        raise NotImplementedError

    def block_actions(
        self, ts: str, value: str, user_id: str = "U1", username: str = "ann"
    ) -> dict[str, Any]:
        """The payload Slack sends when a user clicks the button with `value` under the
        message `ts`."""
        message = next(m for m in self.posted if m["ts"] == ts)
        found = [
            (block, element)
            for block in message["blocks"] or []
            if block.get("type") == "actions"
            for element in block["elements"]
            if element.get("value") == value
        ]
        block, button = found[0] if found else ({"block_id": "forged"}, {"action_id": "x"})
        action_id = str(uuid.uuid4())
        self._action_urls[action_id] = (message["channel"], ts)
        return {
            "type": "block_actions",
            "user": {"id": user_id, "username": username, "name": username, "team_id": "T1"},
            "api_app_id": "A1",
            "token": "deprecated",
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": message["channel"],
                "is_ephemeral": False,
            },
            "trigger_id": "t1",
            "team": {"id": "T1", "domain": "example"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": message["channel"], "name": "ops"},
            "message": {
                "type": "message",
                "user": "U1",
                "bot_id": "B1",
                "ts": ts,
                "text": message["text"],
                "blocks": message["blocks"],
            },
            "state": {"values": {}},
            "response_url": f"{self.url}/actions/{action_id}",
            "actions": [
                {
                    "action_id": button.get("action_id"),
                    "block_id": block.get("block_id"),
                    "text": button.get("text", {"type": "plain_text", "text": "?"}),
                    "value": value,
                    "type": "button",
                    "action_ts": "1700000001.000200",
                }
            ],
        }

    async def click(self, ts: str, value: str, user_id: str = "U1", username: str = "ann") -> str:
        """A click over Socket Mode; returns the envelope id."""
        envelope_id = str(uuid.uuid4())
        await self._send_envelope(
            {
                "envelope_id": envelope_id,
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": self.block_actions(ts, value, user_id, username),
            }
        )
        return envelope_id

    async def _action_response(self, request: web.Request) -> web.Response:
        where = self._action_urls.get(request.match_info["id"])
        if where is None:
            return web.Response(status=404, text="no_active_hooks")
        body = await request.json()
        if not body.get("text") and not body.get("blocks"):
            return web.Response(status=400, text="no_text")
        async with self._interacted:
            if body.get("replace_original"):
                message = next(m for m in self.posted if (m["channel"], m["ts"]) == where)
                message.update(text=body.get("text"), blocks=body.get("blocks"))
                self.replaced.append(dict(message))
            else:
                self.ephemeral.append({"channel": where[0], **body})
            self._interacted.notify_all()
        return web.Response(text="ok")

    async def wait_interactions(self, count: int) -> None:
        """Until `count` answers (replacements and ephemeral messages) have arrived."""
        async with self._interacted:
            await asyncio.wait_for(
                self._interacted.wait_for(
                    lambda: len(self.replaced) + len(self.ephemeral) >= count
                ),
                30,
            )
