"""The font an evidence PDF is written in: Noto Sans CJK (Debian's fonts-noto-cjk, `make fonts`),
cut down to the characters the document uses and given TrueType outlines.

Noto Sans CJK is a CID-keyed OpenType/CFF collection. Embedded as such, fpdf2 maps its codes to
CIDs through an encoding CMap that text extractors (pypdf among them) do not read, so the words
come back spaced apart. So the document's characters are cut from the collection's simplified
Chinese member (which holds every CJK, kana, Hangul, Latin, Greek and Cyrillic glyph of the
family; traditional characters are in it too) with fontTools' subsetter, and each glyph's cubic
outline is turned into quadratic TrueType contours (cu2qu, within one font unit): a small
TrueType font that fpdf2 embeds as an ordinary Identity-H CIDFontType2 whose text reads back
exactly. Without the collection installed there is no CJK font and `cjk_font` returns None.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SIMPLIFIED_CHINESE_MEMBER = 2  # JP, KR, SC, TC, HK, then the Mono members
_MAX_ERROR = 1.0  # font units a converted curve may stray from the original
_MAXP_ZEROED = (
    "maxZones",
    "maxTwilightPoints",
    "maxStorage",
    "maxFunctionDefs",
    "maxInstructionDefs",
    "maxStackElements",
    "maxSizeOfInstructions",
    "maxComponentElements",
)


def cjk_font(text: str, *, source: Path = NOTO_CJK) -> bytes | None:
    """A TrueType font holding the glyphs of every character of `text`, or None when the CJK
    collection is not installed."""
    if not source.is_file():
        return None
    return _cut("".join(sorted(set(text))), str(source))


@lru_cache(maxsize=16)
def _cut(characters: str, source: str) -> bytes:
    with TTFont(source, fontNumber=SIMPLIFIED_CHINESE_MEMBER, lazy=True) as font:
        return _subset_truetype(font, characters)


def _subset_truetype(font: TTFont, characters: str) -> bytes:
    options = subset.Options()
    options.desubroutinize = True
    options.name_IDs = ["*"]
    options.layout_features = []
    options.notdef_outline = True
    options.glyph_names = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    _to_truetype(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines by `glyf` contours and make the tables say so."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyphs[name].draw(Cu2QuPen(pen, _MAX_ERROR, reverse_direction=True))
        glyf[name] = pen.glyph()
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attribute in _MAXP_ZEROED:
        setattr(maxp, attribute, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"
