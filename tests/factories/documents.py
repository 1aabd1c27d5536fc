"""Real files of each allowed type, made by the libraries that write them (fpdf2, Pillow) or, for
Office files, as the minimal OOXML package Word and Excel open."""

from __future__ import annotations

import io
import zipfile

from fpdf import FPDF
from PIL import Image

SECRET_LINE = "Margin call: client ACME-7731 owes 4,250,000 EUR by Friday"

_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="{target}"/></Relationships>'
)
_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/{part}" ContentType="{main}"/></Types>'
)
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def pdf(text: str = SECRET_LINE) -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text=text)
    document.set_compression(False)  # so a test can see the text is in the plaintext
    return bytes(document.output())


def image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def ooxml(*, part: str, main: str, body: str, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _TYPES.format(part=part, main=main))
        archive.writestr("_rels/.rels", _RELS.format(target=part))
        archive.writestr(part, body)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(
    text: str = SECRET_LINE, *, main: str = DOCX_MAIN, extra: dict[str, bytes] | None = None
) -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
    )
    return ooxml(part="word/document.xml", main=main, body=body, extra=extra)


def xlsx() -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>'
    )
    return ooxml(part="xl/workbook.xml", main=XLSX_MAIN, body=body)


def zip_bomb() -> bytes:
    """A DOCX-shaped archive with a part that expands about 1000-fold (16 MiB of zeros)."""
    return docx(extra={"word/media/zeros.bin": bytes(16 * 1024 * 1024)})
