"""The user side: fake people who send messages, press buttons and wait for replies."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.double.formatting import utf16_len
from tests.double.internals import _Chat, _command_entities, _wait
from tests.double.protocol import Buttons, JSONDict

if TYPE_CHECKING:  # the server imports this module
    from tests.double.server import BotApiDouble

from tests.double.records import CallbackAnswer, SentMessage


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat.id == user id)."""

    def __init__(
        self,
        double: BotApiDouble,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
        last_name: str | None = None,
    ) -> None:
        self.double = double
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.language_code = language_code
        self.username = username
        self.user_dict: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            self.user_dict["last_name"] = last_name
        if username is not None:
            self.user_dict["username"] = username
        if language_code is not None:
            self.user_dict["language_code"] = language_code
        self.chat_dict: JSONDict = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name is not None:
            self.chat_dict["last_name"] = last_name
        if username is not None:
            self.chat_dict["username"] = username
        self.last_press: int | None = None

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def _chat(self) -> _Chat:
        return self.double._chats[self.id]

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    # -- acting ---------------------------------------------------------------------------

    def mark(self) -> int:
        """A cursor for ``wait_for(after=...)``: only bot sends/edits after this point match."""
        return len(self._chat.events)

    def _user_message(self, payload: JSONDict) -> int:
        chat = self._chat
        message = {
            "message_id": chat.allocate_id(),
            "from": self.user_dict,
            "chat": self.chat_dict,
            "date": int(time.time()),
            **payload,
        }
        chat.user_messages[message["message_id"]] = message
        chat.action_cursor = len(chat.events)
        return self.double.enqueue_update({"message": message})

    async def send(self, text: str) -> int:
        """Send a text message (commands get a bot_command entity). Returns the update_id."""
        payload: JSONDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            payload["entities"] = entities
        return self._user_message(payload)

    async def send_document(
        self,
        content: bytes,
        filename: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> int:
        stored = self.double._store_file(content, "document", filename, mime_type)
        payload: JSONDict = {"document": stored.document_dict()}
        if caption is not None:
            payload["caption"] = caption
        return self._user_message(payload)

    async def send_photo(self, content: bytes, caption: str | None = None) -> int:
        sizes = self.double._store_photo(content, strict=False)
        payload: JSONDict = {"photo": [s.photo_size_dict() for s in sizes]}
        if caption is not None:
            payload["caption"] = caption
        return self._user_message(payload)

    async def send_contact(
        self, phone_number: str, *, user_id: int | None = None, first_name: str | None = None
    ) -> int:
        """Share a contact, as Telegram's request_contact button does: by default the
        user's own (its user_id is theirs); another user_id is a forwarded card."""
        contact: JSONDict = {
            "phone_number": phone_number,
            "first_name": first_name or self.first_name,
            "user_id": self.id if user_id is None else user_id,
        }
        return self._user_message({"contact": contact})

    def _resolve(self, message: SentMessage | int) -> SentMessage:
        message_id = message if isinstance(message, int) else message.message_id
        if isinstance(message, SentMessage) and message.chat_id != self.chat_id:
            raise AssertionError(f"{message!r} is not in chat {self.chat_id} of user {self.id}")
        found = self._chat.bot_messages.get(message_id)
        if found is None:
            raise AssertionError(
                f"bot message #{message_id} does not exist (or was deleted) in chat {self.id}"
            )
        return found

    async def press(self, message: SentMessage | int, button: str) -> int:
        """Press an inline button chosen by exact text, exact callback_data, or a unique
        substring of its text. Returns the update_id of the callback query."""
        msg = self._resolve(message)
        flat = [b for row in msg.inline_keyboard for b in row]
        candidates = [b for b in flat if b.get("text") == button]
        if not candidates:
            candidates = [b for b in flat if b.get("callback_data") == button]
        if not candidates:
            candidates = [b for b in flat if button in str(b.get("text", ""))]
            if len(candidates) > 1:
                raise AssertionError(
                    f"button {button!r} is ambiguous on {msg!r}; buttons: {msg.buttons()}"
                )
        if not candidates:
            raise AssertionError(
                f"no button {button!r} on bot message {msg!r}; buttons: {msg.buttons()}"
            )
        data = candidates[0].get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(
                f"button {button!r} on {msg!r} has no callback_data (it is {candidates[0]}); "
                "pressing it would not reach the bot"
            )
        return self._callback(msg, data)

    async def press_data(self, message: SentMessage | int, callback_data: str) -> int:
        """Send a callback query with arbitrary data, as a forged or stale client would."""
        return self._callback(self._resolve(message), callback_data)

    def _callback(self, message: SentMessage, data: str) -> int:
        double = self.double
        double._callback_counter += 1
        query_id = str(double._callback_counter)
        chat = self._chat
        chat.action_cursor = len(chat.events)
        update_id = double.enqueue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_dict,
                    "message": message.to_dict(),
                    "chat_instance": str(-7_000_000_000 - self.id),
                    "data": data,
                }
            }
        )
        double._open_callbacks[query_id] = (update_id, self.id)
        self.last_press = update_id
        return update_id

    def in_group(
        self, chat_id: int, title: str = "校长群", chat_type: str = "supergroup"
    ) -> FakeGroupMember:
        """This user writing in a group chat (created on first use; ids are negative)."""
        if chat_id >= 0 or chat_type not in ("group", "supergroup"):
            raise ValueError("groups have negative ids and type group or supergroup")
        chat = self.double._chats.get(chat_id)
        if chat is None:
            chat = _Chat(chat_id, {"id": chat_id, "type": chat_type, "title": title})
            self.double._chats[chat_id] = chat
        return FakeGroupMember(self, chat)

    # -- observing ------------------------------------------------------------------------

    def messages(self) -> list[SentMessage]:
        """Bot messages in this chat as they are now (edits applied, deleted ones left out)."""
        return list(self._chat.bot_messages.values())

    def last(self) -> SentMessage:
        messages = self._chat.bot_messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing (left) in chat {self.id}")
        return next(reversed(messages.values()))

    def buttons(self, message: SentMessage | None = None) -> Buttons:
        return (message or self.last()).buttons()

    async def download(self, message: SentMessage) -> bytes:
        """The bytes of a document or photo the bot sent (the largest size for photos)."""
        if message.document is not None:
            file_id = str(message.document["file_id"])
        elif message.photo:
            file_id = str(message.photo[-1]["file_id"])
        else:
            raise AssertionError(f"{message!r} carries no document or photo")
        return self.double.files[file_id].content

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool] | str,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
        after: int | None = None,
    ) -> SentMessage:
        """Wait for a bot message (new or edited) in this chat that matches.

        A str matches when it occurs in the visible text/caption (``plain``) or the raw source.
        ``after=None`` means "since this user's last send/press"; pass ``user.mark()`` taken
        earlier for another starting point, or ``after=0`` to search the whole chat.
        """
        chat = self._chat
        matches: Callable[[SentMessage], bool]
        if isinstance(predicate, str):
            needle = predicate

            def contains(m: SentMessage) -> bool:
                return needle in (m.plain or "") or needle in (m.content or "")

            matches = contains
            description = f"a message containing {needle!r}"
        else:
            matches = predicate
            description = f"a message matching {getattr(predicate, '__name__', predicate)!r}"
        index = chat.action_cursor if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = chat.changed.current
            events = chat.events
            while index < len(events):
                candidate = events[index]
                index += 1
                if not candidate.deleted and matches(candidate):
                    return candidate
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {description} from the bot in "
                    f"chat {self.id}\n{self.double._describe_chat(chat)}"
                )
            await _wait(changed, remaining)

    async def expect_silence(self, within: float = 0.3, after: int | None = None) -> None:
        """Assert that the bot sends or edits nothing in this chat for ``within`` seconds."""
        chat = self._chat
        start = chat.action_cursor if after is None else after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(chat.events) <= start and (remaining := deadline - loop.time()) > 0:
            await _wait(chat.changed.current, remaining)
        if len(chat.events) > start:
            raise AssertionError(f"expected no reply in chat {self.id}, got {chat.events[start]!r}")

    async def wait_for_answer(
        self,
        update_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> CallbackAnswer:
        """The bot's answerCallbackQuery for a press (default: this user's last press)."""
        target = self.last_press if update_id is None else update_id
        if target is None:
            raise AssertionError(f"user {self.id} has not pressed any button")
        return await self.double.wait_for_callback_answer(target, timeout)


class FakeGroupMember(FakeUser):
    """A user writing in a group chat: a FakeUser whose messages, presses and waits are in
    the group (whose bot messages every member sees) rather than in their private chat."""

    def __init__(self, user: FakeUser, group: _Chat) -> None:
        super().__init__(
            user.double,
            user.id,
            user.first_name,
            user.language_code,
            user.username,
            user.last_name,
        )
        self.group = group
        self.chat_dict = group.info

    @property
    def chat_id(self) -> int:
        return self.group.id

    @property
    def _chat(self) -> _Chat:
        return self.group

    async def send(self, text: str) -> int:
        """As FakeUser.send, with Telegram's "mention" entities for @usernames."""
        payload: JSONDict = {"text": text}
        entities = _command_entities(text) + [
            {
                "type": "mention",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
            for m in re.finditer(r"@[A-Za-z0-9_]{5,32}", text)
            if not (m.start() > 0 and text[m.start() - 1] not in " \n")  # not /cmd@bot
        ]
        if entities:
            payload["entities"] = entities
        return self._user_message(payload)

    async def reply(self, message: SentMessage, text: str) -> int:
        """A text message that replies to a bot message in the group."""
        return self._user_message({"text": text, "reply_to_message": message.to_dict()})
