"""The Bot API double, exercised through an unmodified python-telegram-bot."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.double import BotApiDouble, SentMessage, html_to_entities

USER_ID = 1001

# PTB itself warns about the future type of RetryAfter.retry_after whenever it builds one.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
# PTB strips "Bad Request: " and capitalizes the rest, so BadRequest texts match with (?i).


def png(width: int = 200, height: int = 120) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("确认 ✅", callback_data="confirm:1"),
                InlineKeyboardButton("帮助", url="https://example.org/help"),
            ]
        ]
    )
    await update.effective_message.reply_text(
        f"start:{','.join(context.args or [])}", reply_markup=keyboard
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"got {query.data}")
    await query.edit_message_text(f"<b>已确认</b> {query.data}", parse_mode="HTML")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None and message.document is not None
    file = await message.document.get_file()
    data = await file.download_as_bytearray()
    await message.reply_document(
        bytes(data), filename=f"back-{message.document.file_name}", caption=f"{len(data)} bytes"
    )


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None and message.text is not None
    await message.reply_text(f"echo: {message.text}")


@pytest.fixture
async def tg() -> AsyncIterator[BotApiDouble]:
    async with BotApiDouble() as double:
        yield double


@pytest.fixture
async def bot(tg: BotApiDouble) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as raw_bot:
        yield raw_bot


@pytest.fixture
async def app(tg: BotApiDouble) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.Document.ALL, on_document))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        yield application
        await application.updater.stop()
        await application.stop()


# --- through a running Application ----------------------------------------------------------


@pytest.mark.usefixtures("app")
async def test_echo_round_trip(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    await alice.send("你好")
    reply = await alice.wait_for("echo: 你好")
    assert reply.chat_id == USER_ID
    assert reply.message_id == 2  # user message 1 and the reply share the chat's counter
    assert tg.messages_to(USER_ID) == [reply]


@pytest.mark.usefixtures("app")
async def test_start_payload_reaches_context_args(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    await alice.send("/start school_42")
    reply = await alice.wait_for(lambda m: m.text is not None and m.text.startswith("start:"))
    assert reply.text == "start:school_42"
    assert alice.buttons(reply) == [
        [("确认 ✅", "confirm:1"), ("帮助", "https://example.org/help")]
    ]


@pytest.mark.usefixtures("app")
async def test_press_button_edits_message_and_answers(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    await alice.send("/start")
    menu = await alice.wait_for("start:")
    update_id = await alice.press(menu, "确认")  # unique substring of "确认 ✅"
    edited = await alice.wait_for(lambda m: m.edited)
    assert edited is menu
    assert edited.text == "<b>已确认</b> confirm:1"
    assert edited.plain == "已确认 confirm:1"
    assert edited.entities == [{"type": "bold", "offset": 0, "length": 3}]
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard
    previous_text, previous_markup = edited.history[0]
    assert previous_text == "start:"
    assert previous_markup is not None
    assert previous_markup["inline_keyboard"][0][0]["callback_data"] == "confirm:1"
    assert tg.messages_to(USER_ID)[-1].plain == "已确认 confirm:1"
    answer = await alice.wait_for_answer(update_id)
    assert answer.text == "got confirm:1"
    assert tg.unanswered_callbacks() == []


@pytest.mark.usefixtures("app")
async def test_forged_callback_data_reaches_the_bot(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    await alice.send("/start")
    menu = await alice.wait_for("start:")
    await alice.press_data(menu.message_id, "forged:999")
    assert (await alice.wait_for("forged:999")).edited


@pytest.mark.usefixtures("app")
async def test_press_missing_or_url_button_is_a_clear_assertion(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    await alice.send("/start")
    menu = await alice.wait_for("start:")
    with pytest.raises(AssertionError, match=r"no button 'nope'.*确认 ✅"):
        await alice.press(menu, "nope")
    with pytest.raises(AssertionError, match="no callback_data"):
        await alice.press(menu, "帮助")


@pytest.mark.usefixtures("app")
async def test_document_round_trip(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    content = bytes(range(256)) * 40
    await alice.send_document(content, "报表.xlsx", caption="三月")
    reply = await alice.wait_for(lambda m: m.kind == "document")
    assert reply.caption == f"{len(content)} bytes"
    assert reply.document is not None and reply.document["file_name"] == "back-报表.xlsx"
    assert await alice.download(reply) == content
    assert tg.method_count("getFile") == 1


async def _upload(tg: BotApiDouble, disposition: str) -> str:
    """sendDocument with this Content-Disposition for the file part, as a raw client."""
    from aiohttp import MultipartWriter

    with MultipartWriter("form-data") as body:
        chat = body.append(str(USER_ID))
        chat.set_content_disposition("form-data", name="chat_id")
        part = body.append(b"PK\x03\x04 a workbook", {"Content-Type": "application/octet-stream"})
        part.headers["Content-Disposition"] = disposition
    async with ClientSession() as session:
        url = f"{tg.base_url}{tg.token}/sendDocument"
        async with session.post(url, data=body) as response:
            answer = await response.json()
    assert answer["ok"], answer
    return str(answer["result"]["document"]["file_name"])


async def test_upload_file_names_are_kept_as_sent(tg: BotApiDouble) -> None:
    """Like Telegram: filename="..." literally (no percent-decoding), UTF-8 as it is,
    and no RFC 5987 filename*= (so a client that sends only that is caught here)."""
    tg.user(USER_ID)
    raw = 'form-data; name="document"; filename="编制情况-2026.xlsx"'
    assert await _upload(tg, raw) == "编制情况-2026.xlsx"
    quoted = 'form-data; name="document"; filename="%E7%BC%96%E5%88%B6-2026.xlsx"'
    assert await _upload(tg, quoted) == "%E7%BC%96%E5%88%B6-2026.xlsx"
    both = 'form-data; name="document"; filename="x.xlsx"; filename*=UTF-8\'\'%E7%BC%96.xlsx'
    assert await _upload(tg, both) == "x.xlsx"


async def test_the_bots_request_class_sends_file_names_as_browsers_do(tg: BotApiDouble) -> None:
    from transport.http import AiohttpRequest

    tg.user(USER_ID)
    names = ["编制与师资配备-2026年秋季学期-东城学区.xlsx", 'a "quoted" name.xlsx', "a\\b.xlsx"]
    sent = []
    request = AiohttpRequest()
    async with Bot(
        tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url, request=request
    ) as bot:
        for name in names:
            message = await bot.send_document(USER_ID, b"PK\x03\x04", filename=name)
            assert message.document is not None
            sent.append(message.document.file_name)
    # The quote is percent-escaped as HTML5 forms (and httpx) escape it; the rest as given.
    assert sent == [names[0], "a %22quoted%22 name.xlsx", names[2]]


@pytest.mark.usefixtures("app")
async def test_every_update_is_delivered_once(tg: BotApiDouble) -> None:
    alice = tg.user(USER_ID)
    for text in ("一", "二", "三"):
        await alice.send(text)
    await alice.wait_for("echo: 三", after=0)
    await alice.expect_silence(within=0.3, after=alice.mark())
    assert [m.text for m in alice.messages()] == ["echo: 一", "echo: 二", "echo: 三"]


@pytest.mark.usefixtures("app")
async def test_many_concurrent_users(tg: BotApiDouble) -> None:
    users = [tg.user(5000 + i) for i in range(50)]

    async def converse(index: int) -> SentMessage:
        user = users[index]
        await user.send(f"msg {index}")
        return await user.wait_for(f"echo: msg {index}")

    replies = await asyncio.gather(*(converse(i) for i in range(len(users))))
    assert {r.chat_id for r in replies} == {u.id for u in users}
    assert len(tg.sent) == len(users)


async def test_wait_for_timeout_lists_recent_messages_and_errors(
    tg: BotApiDouble, bot: Bot
) -> None:
    alice = tg.user(USER_ID)
    await bot.send_message(USER_ID, "first")
    with pytest.raises(BadRequest):
        await bot.send_message(USER_ID, "<b>broken", parse_mode="HTML")
    with pytest.raises(AssertionError) as caught:
        await alice.wait_for("never", timeout=0.1)
    assert "'first'" in str(caught.value)
    assert "can't parse entities" in str(caught.value)


# --- error mapping seen by PTB ---------------------------------------------------------------


async def test_blocked_chat_is_forbidden(tg: BotApiDouble, bot: Bot) -> None:
    tg.user(USER_ID)
    tg.block(USER_ID)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello")
    tg.unblock(USER_ID)
    await bot.send_message(USER_ID, "hello")


async def test_fail_next_surfaces_as_retry_after_then_network_error(
    tg: BotApiDouble, bot: Bot
) -> None:
    tg.user(USER_ID)
    tg.fail_next(1, 429, retry_after=1)
    tg.fail_next(1, 502)
    with pytest.raises(RetryAfter, match="Retry in 1"):
        await bot.send_message(USER_ID, "a")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER_ID, "b")
    await bot.send_message(USER_ID, "c")
    assert [m.text for m in tg.sent] == ["c"]
    assert tg.injected_faults == [("sendMessage", 429), ("sendMessage", 502)]


async def test_random_faults_and_flood_limits(tg: BotApiDouble, bot: Bot) -> None:
    tg.user(USER_ID)
    tg.set_fault_rates(p429=1.0, seed=7)
    with pytest.raises(RetryAfter):
        await bot.send_message(USER_ID, "a")
    tg.set_fault_rates()
    tg.set_flood_limits(global_per_second=None, per_chat_per_second=1.0)
    await bot.send_message(USER_ID, "within limit")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER_ID, "too fast")


async def test_wrong_token_is_unauthorized(tg: BotApiDouble) -> None:
    intruder = Bot("999:WRONG", base_url=tg.base_url, base_file_url=tg.base_file_url)
    with pytest.raises(InvalidToken):
        await intruder.initialize()


async def test_unknown_method_is_not_found(tg: BotApiDouble, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    async with (
        ClientSession() as session,
        session.post(f"{tg.base_url}{tg.token}/frobnicate", json={}) as response,
    ):
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_text_validation(tg: BotApiDouble, bot: Bot) -> None:
    tg.user(USER_ID)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER_ID, "字" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await bot.send_message(USER_ID, "  ")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER_ID, "<b>x</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER_ID, "1 < 2", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)reserved"):
        await bot.send_message(USER_ID, "v1.0", parse_mode="MarkdownV2")
    ok = await bot.send_message(USER_ID, "&lt;b&gt; &amp; <i>x</i>", parse_mode="HTML")
    assert ok.text == "<b> & x"
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            USER_ID,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="d" * 65)]]
            ),
        )


def test_html_entities_use_utf16_offsets() -> None:
    plain, entities = html_to_entities('😀 <a href="https://x.org/?a=1&amp;b=2">链接</a>')
    assert plain == "😀 链接"
    assert entities == [
        {"type": "text_link", "url": "https://x.org/?a=1&b=2", "offset": 3, "length": 2}
    ]


async def test_edit_errors(tg: BotApiDouble, bot: Bot) -> None:
    tg.user(USER_ID)
    sent = await bot.send_message(USER_ID, "same")
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("same", chat_id=USER_ID, message_id=sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER_ID, message_id=999)
    await bot.delete_message(USER_ID, sent.message_id)
    assert tg.messages_to(USER_ID) == []
    assert tg.sent[0].deleted


async def test_photo_round_trip_keeps_sizes(tg: BotApiDouble, bot: Bot) -> None:
    alice = tg.user(USER_ID)
    image = png()
    sent = await bot.send_photo(USER_ID, image, caption="图表")
    assert [(p.width, p.height) for p in sent.photo] == [(90, 54), (200, 120)]
    assert await alice.download(alice.last()) == image
    again = await bot.send_photo(USER_ID, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER_ID, b"not an image")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(USER_ID, image, caption="x" * 1025)


async def test_commands_per_scope_and_language(tg: BotApiDouble, bot: Bot) -> None:
    tg.user(USER_ID)
    await bot.set_my_commands([BotCommand("start", "开始")])
    await bot.set_my_commands(
        [BotCommand("report", "填报")], scope=BotCommandScopeAllPrivateChats(), language_code="zh"
    )
    await bot.set_my_commands([BotCommand("admin", "管理")], scope=BotCommandScopeChat(USER_ID))
    assert tg.commands_for() == [("start", "开始")]
    assert tg.commands_for("all_private_chats", "zh") == [("report", "填报")]
    assert tg.commands_for("chat", chat_id=USER_ID) == [("admin", "管理")]
    assert tg.commands_for("all_private_chats") is None
    fetched = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="zh")
    assert [c.command for c in fetched] == ["report"]
    with pytest.raises(BadRequest, match=r"(?i)LANG_CODE_INVALID"):
        await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh-hans")
    await bot.delete_my_commands()
    assert tg.commands_for() is None
    assert tg.requests_for("setMyCommands")[1]["scope"] == {"type": "all_private_chats"}


# --- update delivery -------------------------------------------------------------------------


async def test_get_updates_offset_acknowledges(tg: BotApiDouble, bot: Bot) -> None:
    alice = tg.user(USER_ID)
    first = await alice.send("a")
    second = await alice.send("b")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first, second]
    assert len(await bot.get_updates(timeout=0)) == 2  # not acknowledged yet
    updates = await bot.get_updates(offset=first + 1, timeout=0)
    assert [u.message.text for u in updates if u.message] == ["b"]
    assert await bot.get_updates(offset=second + 1, timeout=0) == ()
    assert tg.pending_updates == 0


async def test_long_poll_returns_as_soon_as_an_update_arrives(tg: BotApiDouble, bot: Bot) -> None:
    alice = tg.user(USER_ID)
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await alice.send("wake up")
    updates = await poll
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 2


async def test_webhook_delivers_with_secret_and_retries(tg: BotApiDouble, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    arrived = asyncio.Event()
    statuses = iter([500])

    async def hook(request: web.Request) -> web.Response:
        status = next(statuses, 200)
        if status == 200:
            received.append(
                (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
            )
            arrived.set()
        return web.Response(status=status)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        alice = tg.user(USER_ID)
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret_token")
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        update_id = await alice.send("via webhook")
        await asyncio.wait_for(arrived.wait(), 3)
        assert received == [("s3cret_token", received[0][1])]
        assert received[0][1]["update_id"] == update_id
        assert received[0][1]["message"]["text"] == "via webhook"
        assert tg.webhook_deliveries == [500, 200]
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.last_error_message is not None
        await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()
