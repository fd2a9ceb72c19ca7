"""A fake Discord (REST + gateway on 127.0.0.1) for driving the real discord.py client in tests.

Build the world, start the server, run a bot against it, act as Discord, assert on what the bot
sent::

    fake = FakeDiscord()
    guild = fake.world.add_guild("Peer Support")
    general = fake.world.add_channel(guild, "general")
    alice = fake.world.add_member(guild, "alice")

    async with fake, fake.running(bot):           # server up, bot logged in and ready
        await fake.send_message(general, alice, "hello")        # MESSAGE_CREATE
        ix = await fake.slash_command("kindred search", user=alice, channel=general,
                                      options={"query": "sleep", "limit": 5})
        reply = await ix.wait_response()          # the callback body: {"type": 4, "data": ...}
        assert reply["data"]["flags"] & 64        # ephemeral
        call = await fake.wait_for_call(lambda c: c.method == "POST" and "/webhooks/" in c.path)
        fake.calls("POST", r"/channels/\\d+/messages")           # every recorded RestCall

Server side:
  * `World` (tests/bot/payloads.py) is the model: guilds, roles, channels, overwrites, threads,
    members, messages. Build it before the bot logs in; later changes go through the event helpers.
  * Gateway: HELLO, heartbeat ACK, IDENTIFY -> READY + GUILD_CREATE per guild, RESUME -> RESUMED
    (nothing replayed), op 8 -> GUILD_MEMBERS_CHUNK. ``sessions`` lists "identify"/"resume" per
    connection. `close_gateway`, `invalidate_session`, `request_reconnect` and ``accept_resume``
    make the client reconnect. With ``compress=True`` (default) frames are zlib-stream binary when
    the client asks for it, as on Discord; ``compress=False`` sends plain text frames.
  * REST: the table in `FakeDiscord._route_table`. Unknown routes are recorded and answered 404
    (Discord-style JSON error); every call is a `RestCall` in ``rest_calls``; `fail_next`
    injects 429s.
    Permissions of the bot are enforced on message reads and sends (403 like Discord). A body
    the fake cannot handle is answered 400 at once (``RestCall.error`` says why), never 500,
    which discord.py would retry for seconds.

Event helpers (each updates the world, then dispatches with the next sequence number):
  send_message, edit_message, delete_message, bulk_delete, create_thread, create_forum_post,
  update_thread, delete_thread, thread_list_sync, delete_channel, remove_guild, member_join,
  dispatch (any event, raw payload).
Interactions (return a `FakeInteraction`): slash_command, autocomplete, message_command, click.

Run the bot with ``async with fake.running(bot)`` (patches Route.BASE and DEFAULT_GATEWAY, starts
the bot, waits for on_ready; closes the bot and restores the patches on exit), or patch alone
with ``with fake.installed(): ...``.

Pitfalls seen with discord.py 2.7: it sleeps 5 s before every re-IDENTIFY
(``Client.before_identify_hook``; override it in a test bot); after a re-IDENTIFY on_ready fires
again 0.1 s later (wait for it before closing, or its task leaks); a View's timeout task outlives
``bot.close()`` unless the view is stopped; a 429 without a ``Via`` header is taken for a
Cloudflare ban (the fake sends one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import re
import socket
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import discord
import yarl
from aiohttp import BodyPartReader, WSMsgType, web

from .payloads import (
    DM,
    FORUM,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    SEND,
    SEND_IN_THREADS,
    VIEW,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    Json,
    World,
    channel_payload,
    command_option,
    declared_options,
    guild_create_payload,
    guild_payload,
    interaction_payload,
    iso,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)

API = "/api/v10"
EPHEMERAL, LOADING = 64, 128
VIEW_AND_HISTORY = discord.Permissions(view_channel=True, read_message_history=True).value
RECORDED_HEADERS = ("authorization", "content-type", "user-agent", "x-audit-log-reason")


@dataclass
class UploadedFile:
    """One file part of a multipart body."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class RestCall:
    """One REST request as the fake received it; ``json`` is the body or ``payload_json``."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    headers: dict[str, str]
    status: int = 0
    error: str | None = None  # set when the fake could not handle the body (answered 400)


@dataclass
class FakeInteraction:
    """An interaction the fake sent, and what the bot answered."""

    id: int
    token: str
    payload: Json
    channel: FakeChannel
    response: Json | None = None
    original: Json | None = None
    followups: list[Json] = field(default_factory=list)
    responded: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_response(self, timeout: float = 2.0) -> Json:
        """The callback body ``{"type": ..., "data": ...}`` once the bot answered."""
        await asyncio.wait_for(self.responded.wait(), timeout)
        assert self.response is not None
        return self.response


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    times: int
    retry_after: float


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    compressor: Any = None  # zlib.compressobj when the client asked for zlib-stream
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one zlib stream, frames in order
    shard: tuple[int, int] = (0, 1)  # (shard id, shard count) from IDENTIFY

    async def send(self, payload: Json) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.compressor is None:
                await self.ws.send_str(text)
                return
            data = self.compressor.compress(text.encode())
            await self.ws.send_bytes(data + self.compressor.flush(zlib.Z_SYNC_FLUSH))


class ApiError(Exception):
    """Raised by a route handler; becomes a Discord-style JSON error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Handler = Callable[[RestCall, dict[str, str]], tuple[int, Any]]


class FakeDiscord:
    """A fake Discord API and gateway for one test; an async context manager."""

    def __init__(
        self,
        world: World | None = None,
        *,
        token: str = "fake-bot-token",
        compress: bool = True,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.world = world or World()
        self.token = token
        self.compress = compress
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.accept_resume = True
        self.rest_calls: list[RestCall] = []
        self.gateway_received: list[Json] = []
        self.sessions: list[str] = []
        self.compressed: list[bool] = []  # per gateway connection: zlib-stream frames or text
        self.commands: dict[int | None, list[Json]] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        # users whose DMs are closed: a message to their DM channel is answered 403 (50007)
        self.closed_dms: set[int] = set()
        # thread id -> user ids added to it (PUT /channels/{thread}/thread-members/{user})
        self.thread_members: dict[int, set[int]] = {}
        # the application's flags (`GET /oauth2/applications/@me`): privileged intents enabled
        self.application_flags = 0
        self.port = 0
        self._loose: dict[int, tuple[FakeChannel, Json]] = {}  # ephemeral messages
        self._failures: list[_Failure] = []
        self._waiters: list[tuple[Callable[[RestCall], bool], asyncio.Future[RestCall]]] = []
        self._connections: set[_Connection] = set()
        self._live: _Connection | None = None
        self._shards: dict[tuple[int, int], _Connection] = {}  # live session of each shard
        self._live_event = asyncio.Event()
        self._session_id: str | None = None
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self._saved: list[tuple[str, yarl.URL]] = []  # what each nested install replaced
        self._routes = self._route_table()

    # lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
        for _, future in self._waiters:
            future.cancel()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> yarl.URL:
        return yarl.URL(f"ws://127.0.0.1:{self.port}/")

    def install(self) -> None:
        """Point discord.py's REST base and default gateway at this server."""
        ws_class = discord.gateway.DiscordWebSocket
        self._saved.append((discord.http.Route.BASE, ws_class.DEFAULT_GATEWAY))
        discord.http.Route.BASE = self.base_url
        ws_class.DEFAULT_GATEWAY = self.gateway_url

    def uninstall(self) -> None:
        """Restore what the matching `install` replaced (installs nest: two bots, one fake)."""
        if self._saved:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = (
                self._saved.pop()
            )

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        self.install()
        try:
            yield
        finally:
            self.uninstall()

    @contextlib.asynccontextmanager
    async def running(self, bot: discord.Client, timeout: float = 5.0) -> AsyncIterator[None]:
        """Start ``bot`` against this server, wait for on_ready; close it on exit."""
        with self.installed():
            task = asyncio.create_task(bot.start(self.token))
            try:
                deadline = time.monotonic() + timeout
                while not bot.is_ready():
                    if task.done():
                        task.result()
                        raise RuntimeError("bot stopped before it was ready")
                    if time.monotonic() > deadline:
                        raise TimeoutError("bot not ready")
                    await asyncio.sleep(0.005)
                yield
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout)

    # recording --------------------------------------------------------------------------------
    def calls(self, method: str | None = None, path: str | None = None) -> list[RestCall]:
        """Recorded calls with this method and a path that fully matches the regex ``path``."""
        return [
            c
            for c in self.rest_calls
            if (method is None or c.method == method.upper())
            and (path is None or re.fullmatch(path, c.path))
        ]

    async def wait_for_call(
        self, predicate: Callable[[RestCall], bool], timeout: float = 2.0
    ) -> RestCall:
        """The first recorded call matching ``predicate`` (already made, or the next one)."""
        for call in self.rest_calls:
            if predicate(call):
                return call
        future: asyncio.Future[RestCall] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def fail_next(self, method: str, path: str, times: int = 1, retry_after: float = 0.2) -> None:
        """Answer the next ``times`` matching calls with a 429 (bucket rate limit)."""
        self._failures.append(_Failure(method.upper(), re.compile(path), times, retry_after))

    # HTTP entry point -------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith(API + "/"):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._gateway(request)
            return _json_response(404, {"message": "404: Not Found", "code": 0})
        call = await _record(request, request.path[len(API) :])
        self.rest_calls.append(call)
        status, body, headers = self._answer(call)
        call.status = status
        self._notify(call)
        return _json_response(status, body, headers)

    def _answer(self, call: RestCall) -> tuple[int, Any, dict[str, str]]:
        failure = self._take_failure(call)
        if failure is not None:
            return 429, _rate_limit_body(failure), _rate_limit_headers(call, failure.retry_after)
        public = call.path.startswith(("/webhooks/", "/interactions/"))
        if not public and call.headers.get("authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(call.path)
            if method == call.method and match:
                try:
                    status, body = handler(call, match.groupdict())
                except ApiError as err:
                    return err.status, {"message": err.message, "code": err.code}, {}
                except Exception as exc:  # a malformed request (or a fake bug): fail fast
                    call.error = repr(exc)
                    return 400, {"message": f"Invalid Form Body ({exc!r})", "code": 50035}, {}
                return status, body, _bucket_headers(call)
        return 404, {"message": "404: Not Found", "code": 0}, {}

    def _take_failure(self, call: RestCall) -> _Failure | None:
        for failure in self._failures:
            if failure.method == call.method and failure.pattern.fullmatch(call.path):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _notify(self, call: RestCall) -> None:
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(call):
                future.set_result(call)

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        s = r"(?P<{}>\d+)"
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", lambda c, p: (200, user_payload(self.world.bot))),
            ("GET", "/oauth2/applications/@me", lambda c, p: (200, self._application())),
            ("GET", "/gateway", lambda c, p: (200, {"url": str(self.gateway_url)})),
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/channels/{c}", self._get_channel),
            ("GET", "/channels/{c}/messages", self._history),
            ("POST", "/channels/{c}/messages", self._post_message),
            ("GET", "/channels/{c}/messages/{m}", self._get_message),
            ("PATCH", "/channels/{c}/messages/{m}", self._patch_message),
            ("DELETE", "/channels/{c}/messages/{m}", self._delete_message),
            ("POST", "/channels/{c}/typing", lambda c, p: (204, None)),
            ("GET", "/channels/{c}/threads/archived/public", self._archived_threads),
            ("POST", "/users/@me/channels", self._open_dm),
            ("POST", "/channels/{c}/threads", self._start_thread),
            ("PUT", "/channels/{c}/thread-members/{u}", self._add_thread_member),
            ("GET", "/guilds/{g}", lambda c, p: (200, guild_payload(self._guild(p["g"])))),
            ("GET", "/guilds/{g}/threads/active", self._active_threads),
            ("GET", "/guilds/{g}/channels", self._guild_channels),
            ("GET", "/guilds/{g}/roles", self._guild_roles),
            ("GET", "/guilds/{g}/members/{u}", self._guild_member),
            ("PUT", "/applications/{a}/commands", self._put_commands),
            ("GET", "/applications/{a}/commands", self._get_commands),
            ("PUT", "/applications/{a}/guilds/{g}/commands", self._put_commands),
            ("GET", "/applications/{a}/guilds/{g}/commands", self._get_commands),
            ("POST", "/interactions/{i}/{t}/callback", self._callback),
            ("POST", "/webhooks/{a}/{t}", self._followup),
            ("GET", "/webhooks/{a}/{t}/messages/{m}", self._get_webhook_message),
            ("PATCH", "/webhooks/{a}/{t}/messages/{m}", self._edit_webhook_message),
            ("DELETE", "/webhooks/{a}/{t}/messages/{m}", self._delete_webhook_message),
        ]
        compiled = []
        for method, template, handler in table:
            regex = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            regex = regex.replace("{t}", r"(?P<t>[^/]+)").replace("{m}", r"(?P<m>\d+|@original)")
            for name in ("c", "g", "u", "a", "i"):
                regex = regex.replace("{" + name + "}", s.format(name))
            compiled.append((method, re.compile(regex), handler))
        return compiled

    # REST: login and guild --------------------------------------------------------------------
    def _application(self) -> Json:
        return {
            "id": str(self.world.application_id),
            "name": self.world.bot.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(self.world.owner),
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "bot": user_payload(self.world.bot),
        }

    def _gateway_bot(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return 200, {"url": str(self.gateway_url), "shards": 1, "session_start_limit": limit}

    def _guild(self, gid: str) -> FakeGuild:
        guild = self.world.guilds.get(int(gid))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _channel(self, cid: str) -> FakeChannel:
        channel = self.world.channel(int(cid))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _require(self, channel: FakeChannel, bits: int) -> None:
        if channel.guild_id is None:
            return
        me = self.world.guilds[channel.guild_id].members[self.world.bot.id]
        perms = self.world.permissions_for(me, channel)
        if not perms & VIEW:
            raise ApiError(403, 50001, "Missing Access")
        if perms & bits != bits:
            raise ApiError(403, 50013, "Missing Permissions")

    def _get_channel(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        self._require(channel, VIEW)
        return 200, channel_payload(channel)

    def _guild_channels(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        chans = [c for c in self._guild(p["g"]).channels.values() if not c.is_thread]
        return 200, [channel_payload(c) for c in chans]

    def _guild_roles(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        return 200, [role_payload(r) for r in self._guild(p["g"]).roles.values()]

    def _guild_member(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        member = self._guild(p["g"]).members.get(int(p["u"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member_payload(member)

    def _active_threads(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        threads = [t for t in self._guild(p["g"]).threads() if not t.archived]
        return 200, {"threads": [channel_payload(t) for t in threads], "members": []}

    def _archived_threads(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        parent = self._channel(p["c"])
        self._require(parent, VIEW_AND_HISTORY)
        limit = int(call.query.get("limit", 50))
        guild = self.world.guilds[parent.guild_id or 0]
        archived = [
            t
            for t in guild.threads()
            if t.parent_id == parent.id and t.archived and t.type == PUBLIC_THREAD
        ]
        archived.sort(key=lambda t: (t.archive_timestamp, t.id), reverse=True)
        if "before" in call.query:
            before = dt.datetime.fromisoformat(call.query["before"])
            archived = [t for t in archived if t.archive_timestamp and t.archive_timestamp < before]
        page = archived[:limit]
        threads = [channel_payload(t) for t in page]
        return 200, {"threads": threads, "members": [], "has_more": len(archived) > limit}

    def _open_dm(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        user = self.world.users.get(int(call.json["recipient_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, channel_payload(self.world.dm_with(user))

    def _start_thread(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        """A thread without a starter message (type 12, private, unless the body says 11)."""
        parent = self._channel(p["c"])
        body: Json = call.json or {}
        kind = int(body.get("type") or PRIVATE_THREAD)
        needed = discord.Permissions(
            create_private_threads=kind == PRIVATE_THREAD,
            create_public_threads=kind != PRIVATE_THREAD,
        )
        self._require(parent, VIEW | needed.value)
        thread = self.world.add_thread(
            parent, str(body.get("name", "")), owner=self.world.bot, type=kind
        )
        self.thread_members[thread.id] = {self.world.bot.id}
        return 201, channel_payload(thread)

    def _add_thread_member(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        thread = self._channel(p["c"])
        if not thread.is_thread or thread.guild_id is None:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if int(p["u"]) not in self.world.guilds[thread.guild_id].members:
            raise ApiError(404, 10007, "Unknown Member")
        self.thread_members.setdefault(thread.id, set()).add(int(p["u"]))
        return 204, None

    # REST: messages ---------------------------------------------------------------------------
    def _history(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        self._require(channel, VIEW_AND_HISTORY)
        limit = int(call.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise ApiError(400, 50035, "Invalid Form Body: limit must be 1..100")
        ids = sorted(channel.messages)
        q = {k: int(v) for k, v in call.query.items() if k in ("before", "after", "around")}
        if "before" in q:
            chosen = [i for i in ids if i < q["before"]][-limit:]
        elif "after" in q:
            chosen = [i for i in ids if i > q["after"]][:limit]
        elif "around" in q:
            start = max(0, len([i for i in ids if i < q["around"]]) - limit // 2)
            chosen = ids[start : start + limit]
        else:
            chosen = ids[-limit:]
        return 200, [channel.messages[i] for i in reversed(chosen)]

    def _find(self, channel: FakeChannel, mid: str) -> Json:
        message = channel.messages.get(int(mid))
        if message is None and int(mid) in self._loose:
            message = self._loose[int(mid)][1]
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _get_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        self._require(channel, VIEW_AND_HISTORY)
        return 200, self._find(channel, p["m"])

    def _post_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        if channel.type == DM and any(u.id in self.closed_dms for u in channel.recipients):
            raise ApiError(403, 50007, "Cannot send messages to this user")
        self._require(channel, SEND_IN_THREADS if channel.is_thread else SEND)
        return 200, self._create_message(channel, call)

    def _create_message(
        self, channel: FakeChannel, call: RestCall, extra: Json | None = None
    ) -> Json:
        """Store a message the bot sent (ephemeral ones stay out of channel history)."""
        body: Json = call.json or {}
        fields: Json = {k: body[k] for k in ("embeds", "components", "flags", "poll") if k in body}
        fields["attachments"] = _attachments(body, call.files, self.world.ids.next)
        ref = body.get("message_reference")
        if ref:
            fields["type"] = 19
            fields["message_reference"] = {**ref, "type": 0, "channel_id": str(channel.id)}
            with contextlib.suppress(ApiError):
                fields["referenced_message"] = self._find(channel, str(ref["message_id"]))
        fields.update(extra or {})
        bot_member = self.world.member_of(channel, self.world.bot)
        message = message_payload(
            message_id=self.world.ids.next(),
            channel=channel,
            author=self.world.bot,
            content=body.get("content") or "",
            member=bot_member,
            extra=fields,
        )
        if message.get("flags", 0) & EPHEMERAL:
            self._loose[int(message["id"])] = (channel, message)
        else:
            channel.messages[int(message["id"])] = message
        return message

    def _edit(self, message: Json, call: RestCall) -> Json:
        body: Json = call.json or {}
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        if "flags" in body and body["flags"] is not None:
            message["flags"] = (message.get("flags", 0) & EPHEMERAL) | body["flags"]
        if "attachments" in body or call.files:
            message["attachments"] = _attachments(body, call.files, self.world.ids.next)
        message["flags"] = message.get("flags", 0) & ~LOADING
        message["edited_timestamp"] = iso(dt.datetime.now(dt.UTC))
        return message

    def _patch_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        message = self._find(channel, p["m"])
        if int(message["author"]["id"]) != self.world.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return 200, self._edit(message, call)

    def _delete_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        channel = self._channel(p["c"])
        self._find(channel, p["m"])
        channel.messages.pop(int(p["m"]), None)
        self._loose.pop(int(p["m"]), None)
        return 204, None

    # REST: application commands ---------------------------------------------------------------
    def _put_commands(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        if int(p["a"]) != self.world.application_id:
            raise ApiError(403, 50001, "Missing Access")
        gid = int(p["g"]) if "g" in p else None
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(gid, [])}
        echoed = []
        for command in call.json or []:
            key = (command["name"], command.get("type", 1))
            echoed.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "default_member_permissions": None,
                    "nsfw": False,
                    **command,
                    "id": old.get(key) or str(self.world.ids.next()),
                    "application_id": str(self.world.application_id),
                    "version": str(self.world.ids.next()),
                    **({"guild_id": str(gid)} if gid else {}),
                }
            )
        self.commands[gid] = echoed
        return 200, echoed

    def _get_commands(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        return 200, self.commands.get(int(p["g"]) if "g" in p else None, [])

    # REST: interaction responses and webhooks -------------------------------------------------
    def _interaction(self, token: str) -> FakeInteraction:
        ix = self.interactions.get(token)
        if ix is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        return ix

    def _callback(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        ix = self.interactions.get(p["t"])
        if ix is None or str(ix.id) != p["i"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if ix.response is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body: Json = call.json or {}
        kind = int(body.get("type", 0))
        data: Json = body.get("data") or {}
        resource: Json = {"type": kind}
        meta = self._interaction_metadata(ix)
        if kind == 4:
            ix.original = self._create_message(ix.channel, _sub_call(call, data), meta)
        elif kind == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            ix.original = self._create_message(ix.channel, _sub_call(call, {"flags": flags}), meta)
        elif kind == 7 and "message" in ix.payload:
            target = self._lookup(int(ix.payload["message"]["id"]))
            ix.original = self._edit(target, _sub_call(call, data)) if target else None
        ix.response = body
        ix.responded.set()
        info: Json = {"id": str(ix.id), "type": ix.payload["type"]}
        if ix.original is not None and kind in (4, 5, 7):
            resource["message"] = ix.original
            info["response_message_id"] = ix.original["id"]
            info["response_message_loading"] = kind == 5
            info["response_message_ephemeral"] = bool(ix.original.get("flags", 0) & EPHEMERAL)
        return 200, {"interaction": info, "resource": resource}

    def _interaction_metadata(self, ix: FakeInteraction) -> Json:
        user = ix.payload.get("member", {}).get("user") or ix.payload.get("user")
        return {
            "webhook_id": str(self.world.application_id),
            "application_id": str(self.world.application_id),
            "interaction_metadata": {
                "id": str(ix.id),
                "type": ix.payload["type"],
                "user": user,
                "authorizing_integration_owners": {},
            },
        }

    def _webhook(self, p: dict[str, str]) -> FakeInteraction:
        if int(p["a"]) != self.world.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        return self._interaction(p["t"])

    def _followup(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        ix = self._webhook(p)
        if ix.response is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        message = self._create_message(ix.channel, call, self._interaction_metadata(ix))
        ix.followups.append(message)
        return (200, message) if call.query.get("wait") in ("1", "true", "True") else (204, None)

    def _webhook_target(self, ix: FakeInteraction, mid: str) -> Json:
        if mid == "@original":
            if ix.original is None:
                raise ApiError(404, 10008, "Unknown Message")
            return ix.original
        for message in [ix.original, *ix.followups]:
            if message is not None and message["id"] == mid:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    def _get_webhook_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        return 200, self._webhook_target(self._webhook(p), p["m"])

    def _edit_webhook_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        return 200, self._edit(self._webhook_target(self._webhook(p), p["m"]), call)

    def _delete_webhook_message(self, call: RestCall, p: dict[str, str]) -> tuple[int, Any]:
        ix = self._webhook(p)
        message = self._webhook_target(ix, p["m"])
        ix.channel.messages.pop(int(message["id"]), None)
        self._loose.pop(int(message["id"]), None)
        if message is ix.original:
            ix.original = None
        else:
            ix.followups.remove(message)
        return 204, None

    def _lookup(self, message_id: int) -> Json | None:
        found = self.world.find_message(message_id)
        if found is not None:
            return found[1]
        loose = self._loose.get(message_id)
        return loose[1] if loose else None

    # gateway ----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        wants_zlib = request.query.get("compress") == "zlib-stream" and self.compress
        conn = _Connection(ws, zlib.compressobj() if wants_zlib else None)
        self.compressed.append(wants_zlib)
        self._connections.add(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_op(conn, json.loads(msg.data))
        finally:
            self._connections.discard(conn)
            if self._shards.get(conn.shard) is conn:
                del self._shards[conn.shard]
            if self._live is conn:
                self._live = None
                self._live_event.clear()
        return ws

    async def _on_op(self, conn: _Connection, payload: Json) -> None:
        op, data = payload.get("op"), payload.get("d")
        if isinstance(data, dict) and "token" in data:
            data = {**data, "token": "<redacted>"}
        self.gateway_received.append({"op": op, "d": data})
        if op == 1:
            await conn.send({"op": 11})
        elif op == 2:
            await self._identify(conn, payload["d"])
        elif op == 6:
            await self._resume(conn, payload["d"])
        elif op == 8:
            await self._member_chunk(conn, payload["d"])

    async def _identify(self, conn: _Connection, data: Json) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.sessions.append("identify")
        self._session_id = uuid.uuid4().hex
        self._seq = 0
        self._live = conn
        shard = data.get("shard") or [0, 1]
        conn.shard = (int(shard[0]), int(shard[1]))
        self._shards[conn.shard] = conn
        guilds = [
            g
            for g in self.world.guilds.values()
            if self.shard_of(g.id, conn.shard[1]) == conn.shard[0]
        ]
        ready = {
            "v": 10,
            "user": user_payload(self.world.bot),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": self._session_id,
            "resume_gateway_url": str(self.gateway_url),
            "session_type": "normal",
            "shard": list(conn.shard),
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await self._send_dispatch(conn, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(conn, "GUILD_CREATE", guild_create_payload(guild))
        self._live_event.set()

    async def _resume(self, conn: _Connection, data: Json) -> None:
        valid = data.get("token") == self.token and data.get("session_id") == self._session_id
        if not (self.accept_resume and valid):
            self.sessions.append("resume-rejected")
            await conn.send({"op": 9, "d": False})
            return
        self.sessions.append("resume")
        self._live = conn
        await self._send_dispatch(conn, "RESUMED", {})
        self._live_event.set()

    async def _member_chunk(self, conn: _Connection, data: Json) -> None:
        guild = self.world.guilds.get(int(data["guild_id"]))
        members = [member_payload(m) for m in guild.members.values()] if guild else []
        chunk = {
            "guild_id": str(data["guild_id"]),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "nonce": data.get("nonce"),
        }
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, conn: _Connection, event: str, data: Json) -> None:
        self._seq += 1
        await conn.send({"op": 0, "t": event, "s": self._seq, "d": data})

    async def wait_for_session(self, count: int, timeout: float = 3.0) -> None:
        """Wait until ``count`` sessions were opened (identify or resume) and one is live."""
        deadline = time.monotonic() + timeout
        while len([s for s in self.sessions if s != "resume-rejected"]) < count or not self._live:
            if time.monotonic() > deadline:
                raise TimeoutError(f"sessions so far: {self.sessions}")
            await asyncio.sleep(0.005)

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        """Discord's rule: a guild's events go to shard (guild_id >> 22) % shard_count."""
        return (guild_id >> 22) % shard_count

    async def dispatch(self, event: str, data: Json, timeout: float = 3.0) -> None:
        """Send one DISPATCH with the next sequence number (waits for a live session); with
        several shard sessions, to the shard of the event's guild."""
        await asyncio.wait_for(self._live_event.wait(), timeout)
        assert self._live is not None
        await self._send_dispatch(self._session_for(data), event, data)

    def _session_for(self, data: Json) -> _Connection:
        assert self._live is not None
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if guild_id is None or len(self._shards) < 2:
            return self._live
        for (shard_id, count), conn in self._shards.items():
            if self.shard_of(int(guild_id), count) == shard_id:
                return conn
        return self._live

    async def close_gateway(self, code: int = 4000) -> None:
        """Close the live socket from the server side; the client must reconnect."""
        conn = self._live
        self._live = None
        self._live_event.clear()
        if conn is not None:
            await asyncio.wait_for(conn.ws.close(code=code), 2.0)

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION on the live socket."""
        conn = self._live
        assert conn is not None, "no live gateway session"
        self._live = None
        self._live_event.clear()
        await conn.send({"op": 9, "d": resumable})

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on the live socket."""
        conn = self._live
        assert conn is not None, "no live gateway session"
        self._live = None
        self._live_event.clear()
        await conn.send({"op": 7, "d": None})

    # events -----------------------------------------------------------------------------------
    async def send_message(
        self,
        channel: FakeChannel,
        author: FakeMember | FakeUser,
        content: str = "",
        **extra: Any,
    ) -> Json:
        """Store a message from ``author`` and dispatch MESSAGE_CREATE (``mentions=[members]``)."""
        message = self.world.add_message(channel, author, content, **extra)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def edit_message(self, message: Json, content: str) -> Json:
        message["content"] = content
        message["edited_timestamp"] = iso(dt.datetime.now(dt.UTC))
        await self.dispatch("MESSAGE_UPDATE", message)
        return message

    async def delete_message(self, message: Json) -> None:
        channel = self._channel(message["channel_id"])
        channel.messages.pop(int(message["id"]), None)
        await self.dispatch("MESSAGE_DELETE", _ids(message["id"], channel))

    async def bulk_delete(self, channel: FakeChannel, messages: list[Json]) -> None:
        for message in messages:
            channel.messages.pop(int(message["id"]), None)
        data = _ids(None, channel)
        data["ids"] = [m["id"] for m in messages]
        await self.dispatch("MESSAGE_DELETE_BULK", data)

    async def create_thread(
        self, parent: FakeChannel, name: str, owner: FakeMember | None = None, **kw: Any
    ) -> FakeChannel:
        """Add a thread and dispatch THREAD_CREATE (``newly_created``)."""
        thread = self.world.add_thread(parent, name, owner=owner, **kw)
        await self.dispatch("THREAD_CREATE", {**channel_payload(thread), "newly_created": True})
        return thread

    async def create_forum_post(
        self, forum: FakeChannel, name: str, author: FakeMember, content: str
    ) -> tuple[FakeChannel, Json]:
        """A forum post: THREAD_CREATE, then MESSAGE_CREATE of its starter message."""
        assert forum.type == FORUM
        thread, starter = self.world.add_forum_post(forum, name, author, content)
        await self.dispatch("THREAD_CREATE", {**channel_payload(thread), "newly_created": True})
        await self.dispatch("MESSAGE_CREATE", starter)
        return thread, starter

    async def update_thread(self, thread: FakeChannel, **changes: Any) -> None:
        """Change attributes (``archived``, ``locked``, ``name``) and dispatch THREAD_UPDATE."""
        for key, value in changes.items():
            setattr(thread, key, value)
        if changes.get("archived"):
            thread.archive_timestamp = dt.datetime.now(dt.UTC)
        await self.dispatch("THREAD_UPDATE", channel_payload(thread))

    async def delete_thread(self, thread: FakeChannel) -> None:
        assert thread.guild_id is not None
        self.world.guilds[thread.guild_id].channels.pop(thread.id, None)
        data = {"id": str(thread.id), "guild_id": str(thread.guild_id), "type": thread.type}
        await self.dispatch("THREAD_DELETE", {**data, "parent_id": str(thread.parent_id)})

    async def delete_channel(self, channel: FakeChannel) -> None:
        """Remove a channel and its threads; dispatch CHANNEL_DELETE."""
        assert channel.guild_id is not None
        guild = self.world.guilds[channel.guild_id]
        payload = channel_payload(channel)
        for cid in [c.id for c in guild.channels.values() if c.parent_id == channel.id]:
            if guild.channels[cid].is_thread:
                del guild.channels[cid]
        del guild.channels[channel.id]
        await self.dispatch("CHANNEL_DELETE", payload)

    async def thread_list_sync(self, guild: FakeGuild) -> None:
        """THREAD_LIST_SYNC of every active thread of ``guild`` (as after gaining access)."""
        active = [channel_payload(t) for t in guild.threads() if not t.archived]
        data = {"guild_id": str(guild.id), "threads": active, "members": []}
        await self.dispatch("THREAD_LIST_SYNC", data)

    async def remove_guild(self, guild: FakeGuild) -> None:
        """The bot was removed from ``guild``: GUILD_DELETE without ``unavailable``."""
        del self.world.guilds[guild.id]
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id)})

    async def member_join(
        self, guild: FakeGuild, username: str, roles: list[FakeRole] | None = None
    ) -> FakeMember:
        member = self.world.add_member(guild, username, roles)
        data = {**member_payload(member), "guild_id": str(guild.id)}
        await self.dispatch("GUILD_MEMBER_ADD", data)
        return member

    # interactions -----------------------------------------------------------------------------
    def _command(self, name: str, kind: int, channel: FakeChannel) -> Json:
        """The synced command (guild first, then global) or a stand-in if none was synced."""
        for gid in (channel.guild_id, None):
            for command in self.commands.get(gid, []):
                if command["name"] == name and command.get("type", 1) == kind:
                    return command
        return {"id": str(self.world.ids.next()), "name": name, "type": kind, "options": []}

    def _base_interaction(
        self, kind: int, user: FakeMember | FakeUser, channel: FakeChannel, data: Json
    ) -> FakeInteraction:
        iid = self.world.ids.next()
        token = f"itoken-{iid}-{uuid.uuid4().hex}"
        payload = interaction_payload(self.world, iid, token, kind, user, channel, data)
        ix = FakeInteraction(iid, token, payload, channel)
        self.interactions[token] = ix
        return ix

    async def _send_interaction(
        self, kind: int, user: FakeMember | FakeUser, channel: FakeChannel, data: Json, **extra: Any
    ) -> FakeInteraction:
        ix = self._base_interaction(kind, user, channel, data)
        ix.payload.update(extra)
        await self.dispatch("INTERACTION_CREATE", ix.payload)
        return ix

    def _command_data(
        self, path: str, channel: FakeChannel, options: dict[str, Any], focused: str | None
    ) -> Json:
        words = path.split()
        command = self._command(words[0], 1, channel)
        resolved: Json = {}
        declared = declared_options(command, words[1:])
        opts = [
            command_option(name, value, declared.get(name), resolved, self.world, channel, focused)
            for name, value in options.items()
        ]
        kinds = {0: (), 1: (1,), 2: (2, 1)}[len(words) - 1]  # subcommand group 2, subcommand 1
        for word, kind in reversed(list(zip(words[1:], kinds, strict=True))):
            opts = [{"type": kind, "name": word, "options": opts}]
        data: Json = {"id": command["id"], "name": words[0], "type": 1, "options": opts}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data

    async def slash_command(
        self,
        path: str,
        *,
        user: FakeMember | FakeUser,
        channel: FakeChannel,
        options: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        """INTERACTION_CREATE type 2 for ``"cmd [group] [sub]"``.

        Option types follow the synced definition when there is one, else the Python type:
        str 3, int 4, bool 5, FakeMember/FakeUser 6, FakeChannel 7, FakeRole 8, float 10;
        channels, users, members and roles are added to ``resolved``.
        """
        data = self._command_data(path, channel, options or {}, None)
        return await self._send_interaction(2, user, channel, data)

    async def autocomplete(
        self,
        path: str,
        *,
        user: FakeMember | FakeUser,
        channel: FakeChannel,
        options: dict[str, Any],
        focused: str,
    ) -> FakeInteraction:
        """INTERACTION_CREATE type 4; the bot answers with callback type 8 ``choices``."""
        data = self._command_data(path, channel, options, focused)
        return await self._send_interaction(4, user, channel, data)

    async def message_command(
        self, name: str, *, user: FakeMember | FakeUser, target: Json
    ) -> FakeInteraction:
        """A message context-menu command (type 2, data.type 3) on ``target``."""
        channel = self._channel(target["channel_id"])
        command = self._command(name, 3, channel)
        data: Json = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._send_interaction(2, user, channel, data)

    async def click(
        self,
        message: Json,
        custom_id: str,
        *,
        user: FakeMember | FakeUser,
        component_type: int = 2,
        values: list[str] | None = None,
    ) -> FakeInteraction:
        """A component interaction (type 3) on a message the bot sent (latest stored version)."""
        current = self._lookup(int(message["id"])) or message
        channel = self._channel(current["channel_id"])
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return await self._send_interaction(3, user, channel, data, message=current)

    async def modal_submit(
        self,
        opened: FakeInteraction,
        values: dict[str, str] | None = None,
        *,
        user: FakeMember | FakeUser | None = None,
    ) -> FakeInteraction:
        """Submit the modal the bot opened in answer to `opened` (callback type 9): an
        INTERACTION_CREATE type 5 whose text inputs hold their pre-filled value unless
        `values` (by input custom id or label) says otherwise."""
        response = opened.response or {}
        assert response.get("type") == 9, f"no modal was opened: {response}"
        modal: Json = response.get("data") or {}
        values = values or {}
        rows: list[Json] = []
        for row in modal.get("components", []):
            inputs = row.get("components") or [row.get("component") or {}]
            for item in inputs:
                custom_id = str(item.get("custom_id", ""))
                given = values.get(custom_id, values.get(str(item.get("label", ""))))
                value = str(item.get("value") or "") if given is None else given
                text = {"type": 4, "custom_id": custom_id, "value": value}
                rows.append({"type": 1, "components": [text]})
        data: Json = {"custom_id": modal.get("custom_id"), "components": rows}
        member = user
        if member is None:
            who = opened.payload.get("member", {}).get("user") or opened.payload.get("user", {})
            gid = opened.payload.get("guild_id")
            uid = int(who["id"])
            member = self.world.guilds[int(gid)].members[uid] if gid else self.world.users[uid]
        extra = {"message": opened.payload["message"]} if "message" in opened.payload else {}
        return await self._send_interaction(5, member, opened.channel, data, **extra)


# helpers ------------------------------------------------------------------------------------------
def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Content-Type exactly application/json: with a charset discord.py reads the body as text."""
    if status == 204:
        return web.Response(status=204, headers=headers)
    raw = json.dumps(body).encode()
    return web.Response(
        status=status, body=raw, headers={**(headers or {}), "Content-Type": "application/json"}
    )


async def _record(request: web.Request, path: str) -> RestCall:
    body: Any = None
    files: list[UploadedFile] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                data = bytes(await part.read())
                content_type = part.headers.get("Content-Type")
                files.append(UploadedFile(part.name or "", part.filename, content_type, data))
    elif request.can_read_body:
        text = await request.text()
        body = json.loads(text) if text else None
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in RECORDED_HEADERS}
    return RestCall(request.method, path, dict(request.query), body, files, headers)


def _bucket_headers(call: RestCall) -> dict[str, str]:
    template = re.sub(r"\d{5,}", "{id}", call.path)
    bucket = hashlib.sha1(f"{call.method} {template}".encode()).hexdigest()[:16]
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": bucket,
    }


def _rate_limit_headers(call: RestCall, retry_after: float) -> dict[str, str]:
    headers = _bucket_headers(call)
    headers.update(
        {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "user",
            "Retry-After": str(max(1, round(retry_after))),
            "Via": "1.1 google",  # discord.py treats a 429 without Via as a Cloudflare ban
        }
    )
    return headers


def _rate_limit_body(failure: _Failure) -> Json:
    return {
        "message": "You are being rate limited.",
        "retry_after": failure.retry_after,
        "global": False,
        "code": 0,
    }


def _attachments(body: Json, files: list[UploadedFile], next_id: Callable[[], int]) -> list[Json]:
    """Attachments of a sent message: kept ones (have an ``id`` we know) plus uploaded files."""
    kept = [a for a in body.get("attachments") or [] if "url" in a]
    uploaded = []
    for upload in files:
        aid = next_id()
        name = upload.filename or upload.field
        url = f"https://cdn.discordapp.com/attachments/{aid}/{name}"
        uploaded.append(
            {
                "id": str(aid),
                "filename": name,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type or "application/octet-stream",
            }
        )
    return kept + uploaded


def _sub_call(call: RestCall, body: Json) -> RestCall:
    """The same call with ``body`` (the ``data`` of an interaction callback) as its JSON."""
    return RestCall(call.method, call.path, call.query, body, call.files, call.headers)


def _ids(message_id: str | None, channel: FakeChannel) -> Json:
    data: Json = {"channel_id": str(channel.id)}
    if message_id is not None:
        data["id"] = str(message_id)
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    return data


__all__ = [
    "DM",
    "FORUM",
    "PUBLIC_THREAD",
    "ApiError",
    "FakeDiscord",
    "FakeInteraction",
    "RestCall",
    "UploadedFile",
    "World",
]
