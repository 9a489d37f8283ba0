"""Text formatting as Telegram parses it: HTML and MarkdownV2 into entities, UTF-16 lengths."""

from __future__ import annotations

import re
from typing import Any, Final

from tests.double.protocol import JSONDict, _bad


class _EntityError(Exception):
    pass


def utf16_len(text: str) -> int:
    """Telegram measures offsets and limits in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_HTML_ENTITY_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^>]*)?)>")
_HTML_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _decode_html_entity(token: str) -> str:
    name = token[1:-1]
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    else:
        # Telegram only knows these four named entities; anything else stays literal.
        return _HTML_NAMED.get(name, token)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return token


def _attr_value(attrs: str, wanted: str) -> str | None:
    for match in _HTML_ATTR.finditer(attrs):
        if match.group(1).lower() == wanted:
            raw = next(g for g in match.groups()[1:] if g is not None)
            return "".join(
                _decode_html_entity(part) if part.startswith("&") else part
                for part in re.split(r"(&[^;\s]+;)", raw)
            )
    return None


def html_to_entities(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram's HTML subset into (plain text, MessageEntity dicts) like the server does.

    Raises ``_EntityError`` with a Telegram-like explanation for input Telegram would reject.
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, JSONDict | None]] = []
    entities: list[JSONDict] = []
    i = 0
    while True:
        special = _HTML_SPECIAL.search(text, i)
        end = special.start() if special else len(text)
        if end > i:
            chunk = text[i:end]
            out.append(chunk)
            pos16 += utf16_len(chunk)
        if special is None:
            break
        j = special.start()
        if text[j] == "&":
            entity = _HTML_ENTITY.match(text, j)
            literal = _decode_html_entity(entity.group(0)) if entity else "&"
            out.append(literal)
            pos16 += utf16_len(literal)
            i = entity.end() if entity else j + 1
            continue
        tag = _HTML_TAG.match(text, j)
        if tag is None:
            following = re.match(r"[^\s<>]*", text[j + 1 :])
            name = following.group(0) if following else ""
            raise _EntityError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, j)}'
            )
        closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        if closing:
            if not stack:
                raise _EntityError(f"Unexpected end tag at byte offset {_byte_offset(text, j)}")
            open_name, start16, proto = stack.pop()
            if open_name != name:
                raise _EntityError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, j)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            if proto is not None and pos16 > start16:
                entities.append({**proto, "offset": start16, "length": pos16 - start16})
        else:
            kind = _HTML_ENTITY_TYPES.get(name)
            if kind is None or (
                name == "span" and (_attr_value(attrs, "class") or "") != "tg-spoiler"
            ):
                raise _EntityError(
                    f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, j)}'
                )
            proto_entity: JSONDict | None = {"type": kind}
            if name == "a":
                href = _attr_value(attrs, "href")
                proto_entity = {"type": "text_link", "url": href} if href else None
            elif name == "tg-emoji":
                emoji_id = _attr_value(attrs, "emoji-id")
                proto_entity = {"type": kind, "custom_emoji_id": emoji_id} if emoji_id else None
            elif name == "blockquote" and re.search(r"\bexpandable\b", attrs):
                proto_entity = {"type": "expandable_blockquote"}
            elif name == "code" and stack and stack[-1][0] == "pre" and stack[-1][2] is not None:
                language = (_attr_value(attrs, "class") or "").removeprefix("language-")
                if language:
                    stack[-1][2]["language"] = language
                proto_entity = None  # Telegram folds <pre><code> into a single pre entity.
            stack.append((name, pos16, proto_entity))
        i = tag.end()
    if stack:
        raise _EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD2_ALWAYS_ESCAPED: Final = frozenset("#+-={}.!")


def _check_markdown_v2(text: str) -> str:
    """Reject the mistakes Telegram rejects most often and return an approximate plain text.

    Only the characters that are never markup outside code must be escaped; full MarkdownV2
    entity parsing is beyond what the tests need.
    """
    i = 0
    in_code = False
    in_link_url = False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "`":
            in_code = not in_code
            i += 3 if text.startswith("```", i) else 1
            continue
        if in_code:
            i += 1
            continue
        if in_link_url:
            in_link_url = char != ")"
        elif char == "(" and i > 0 and text[i - 1] == "]":
            in_link_url = True
        elif char in _MD2_ALWAYS_ESCAPED or char in "()":
            raise _EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        i += 1
    plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    plain = re.sub(r"(?<!\\)(\|\||[*_~`])", "", plain)
    return re.sub(r"\\(.)", r"\1", plain)


def _format(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").lower()
    try:
        if mode == "html":
            return html_to_entities(text)
        if mode == "markdownv2":
            return _check_markdown_v2(text), []
        if mode == "markdown":
            return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).translate(
                str.maketrans("", "", "*_`")
            ), []
    except _EntityError as exc:
        raise _bad(f"can't parse entities: {exc}") from None
    if mode:
        raise _bad(f"unsupported parse_mode {parse_mode}")
    if entities is None:
        return text, []
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise _bad("can't parse entities JSON object")
    return text, entities
