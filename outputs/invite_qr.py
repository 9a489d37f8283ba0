"""Invitation QR codes as PNG images, with the place and the role printed under the code.

The code keeps the 4-module quiet zone the QR standard asks for: phone cameras find a
code by its white margin, and a printout cut close or a chat thumbnail on a dark theme
leaves only what the image itself carries. The caption sits below that margin, so the
text never eats into it.

Chinese names need a CJK font. The dependency `noto-cjk-sans-otc` (Noto Sans CJK, SIL
Open Font License) ships one inside the Python package, the same font the charts use;
fonts the system has are tried when the package is missing, then Pillow's own font
(which draws Latin text only: the sheet's cells still carry the name).
"""

from __future__ import annotations

import io
import logging
from functools import cache
from pathlib import Path
from typing import Any

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

from models.roster.invites import CreatedInvite
from texts.i18n import gettext_for
from texts.labels import role_label

log = logging.getLogger(__name__)

QUIET_ZONE = 4  # modules, as ISO/IEC 18004 asks
CHAT_PIXELS_PER_MODULE = 8
SHEET_PIXELS_PER_MODULE = 6
MAX_TITLE_LINES = 3
MAX_CAPTION_CHARACTERS = 160
MAX_SUBTITLE_LINES = 2  # "Joins as: principal (replaces the current one)"
# (file, index in a collection): Simplified Chinese faces first.
SYSTEM_CJK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def qr_matrix(text: str) -> list[list[bool]]:
    """The code's modules, True for dark, with the quiet zone around them."""
    return [[bool(dark) for dark in row] for row in _qr(text).get_matrix()]


def _qr(text: str) -> qrcode.QRCode[Any]:
    # A fixed mask saves trying all eight, which makes a 2,000-school sheet 2-3x faster;
    # any mask scans equally well. Medium error correction survives a smudged printout.
    # The link is one chunk of bytes, so the smallest version that holds it depends on
    # its length alone: found once per length instead of once per code.
    data = text.encode()
    code = qrcode.QRCode(
        version=_version(len(data)),
        error_correction=ERROR_CORRECT_M,
        border=QUIET_ZONE,
        mask_pattern=0,
    )
    code.add_data(data, optimize=0)
    code.make(fit=False)
    return code


@cache
def _version(length: int) -> int:
    """The smallest QR version that holds `length` bytes at medium error correction."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(b"\0" * length, optimize=0)
    return int(code.best_fit())


# Module values (0 light, 1 dark) to grey levels.
_GREY = bytes([255, 0]) + bytes(254)


def _code_image(text: str, box_size: int) -> Image.Image:
    matrix = _qr(text).get_matrix()
    size = len(matrix)
    pixels = b"".join(bytes(row) for row in matrix).translate(_GREY)
    small = Image.frombytes("L", (size, size), pixels)
    return small.resize((size * box_size, size * box_size), Image.Resampling.NEAREST)


def _font_source() -> tuple[str, int] | None:
    """The CJK font file to draw captions with, and its face index; None if none."""
    try:
        import noto_cjk_sans_otc

        packaged = Path(str(noto_cjk_sans_otc.FONT_PATH))
        if packaged.is_file():
            return str(packaged), 2  # the collection's Simplified Chinese face
    except ImportError:  # pragma: no cover - packaging
        pass
    for path, index in SYSTEM_CJK_FONTS:  # pragma: no cover - depends on the machine
        if Path(path).is_file():
            return path, index
    log.warning("no CJK font found: QR captions show Latin text only")  # pragma: no cover
    return None  # pragma: no cover


@cache
def caption_font(size: int) -> FontType:
    source = _font_source()
    if source is not None:
        try:
            return ImageFont.truetype(source[0], size, index=source[1])
        except OSError as exc:  # pragma: no cover - a damaged font file
            log.warning("cannot load %s: %s", source[0], exc)
    return ImageFont.load_default(size)  # pragma: no cover


def font_family() -> str:
    """The family captions are drawn in, e.g. "Noto Sans CJK SC" (for tests and logs)."""
    font = caption_font(20)
    if isinstance(font, ImageFont.FreeTypeFont):
        return str(font.getname()[0])
    return "default"  # pragma: no cover


def _wrap(text: str, font: FontType, width: int, max_lines: int) -> list[str]:
    """`text` in lines no wider than `width`: Chinese breaks between any two characters,
    other text at spaces where it can; the last line ends in "…" if text is left over."""
    lines: list[str] = []
    # Three lines hold a few dozen characters: more of a very long name is never drawn,
    # and measuring it would only cost time.
    rest = " ".join(text.split())[:MAX_CAPTION_CHARACTERS]
    while rest and len(lines) < max_lines:
        cut = len(rest)
        while cut > 1 and font.getlength(rest[:cut]) > width:
            cut -= 1
        if cut < len(rest) and " " in rest[:cut] and rest[cut] != " ":
            space = rest.rfind(" ", 0, cut)
            # Only break at a space that keeps most of the line; CJK names rarely have one.
            if space > cut // 2:
                cut = space
        lines.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest and lines:
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def captioned_qr_png(
    link: str, title: str, subtitle: str, *, box_size: int = CHAT_PIXELS_PER_MODULE
) -> bytes:
    """The QR code of `link` with `title` (the place, up to three lines) and `subtitle`
    (who joins) printed centred under its quiet zone; PNG bytes."""
    code = _code_image(link, box_size)
    width = code.width
    margin = QUIET_ZONE * box_size // 2
    title_font = caption_font(max(12, round(box_size * 2.6)))
    subtitle_font = caption_font(max(10, round(box_size * 2.1)))
    title_lines = _wrap(title, title_font, width - 2 * margin, MAX_TITLE_LINES)
    subtitle_lines = _wrap(subtitle, subtitle_font, width - 2 * margin, MAX_SUBTITLE_LINES)
    spacing = box_size
    rows = [(line, title_font) for line in title_lines]
    rows += [(line, subtitle_font) for line in subtitle_lines]
    heights = [
        round(font.size) if isinstance(font, ImageFont.FreeTypeFont) else 11 for _l, font in rows
    ]
    height = code.height + sum(h + spacing for h in heights) + margin
    image = Image.new("L", (width, height), 255)
    image.paste(code, (0, 0))
    draw = ImageDraw.Draw(image)
    y = code.height  # the quiet zone below the code stays white
    for (line, font), line_height in zip(rows, heights, strict=True):
        draw.text((width / 2, y), line, fill=0, font=font, anchor="ma")
        y += line_height + spacing
    buffer = io.BytesIO()
    # The fastest zlib level: a few hundred bytes more per image, half the time, which
    # counts on a sheet of 2,000 schools.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def invite_title(school: str | None, district: str | None, bureau: str) -> str:
    """The place an invitation binds to, as printed under its code: the school, else the
    district (a district officer's), else the bureau (staff)."""
    return school or district or bureau


def invite_role(role: str, language: str, *, replaces: bool = False) -> str:
    """The role an invitation gives, e.g. "校长" or "校长（替换现任）"."""
    _ = gettext_for(language)
    label = role_label(role, _)
    if replaces:
        label = _("{role} (replaces the current one)").format(role=label)
    return label


def invite_subtitle(role: str, language: str, *, replaces: bool = False) -> str:
    """The line under the place: "加入身份：校长"."""
    label = invite_role(role, language, replaces=replaces)
    return gettext_for(language)("Joins as: {role}").format(role=label)


def invite_png(
    link: str,
    created: CreatedInvite,
    *,
    bureau: str,
    language: str,
    box_size: int = CHAT_PIXELS_PER_MODULE,
) -> bytes:
    """The image the chat sends for one invitation: its QR code, the place and the role."""
    title = invite_title(
        created.school.name if created.school else None,
        created.district.name if created.district else None,
        bureau,
    )
    subtitle = invite_subtitle(
        created.invite.role, language, replaces=created.invite.replaces_principal
    )
    return captioned_qr_png(link, title, subtitle, box_size=box_size)
