"""Types by content and by extension, which must agree; Office structure; safe file names."""

from __future__ import annotations

import pytest

from dealchat.documents.sniff import DEFAULT_ALLOWED, RefusedError, check, clean_filename, sniff
from tests.factories import documents as files

ALL = DEFAULT_ALLOWED


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("statement.pdf", files.pdf(), "pdf"),
        ("chart.png", files.image("PNG"), "png"),
        ("photo.jpg", files.image("JPEG"), "jpeg"),
        ("photo.JPEG", files.image("JPEG"), "jpeg"),
        ("notes.txt", "Bonjour, 5 mio € à 1,0850\n".encode(), "text"),
        ("trades.csv", b"date,pair,amount\n2026-11-24,EURUSD,1000000\n", "csv"),
        ("letter.docx", files.docx(), "docx"),
        ("book.xlsx", files.xlsx(), "xlsx"),
    ],
)
def test_each_allowed_type_passes_when_extension_and_content_agree(
    name: str, data: bytes, kind: str
) -> None:
    checked = check(name, data, allowed=ALL)
    assert checked.doc_type.name == kind
    assert checked.filename == name


@pytest.mark.parametrize(
    ("name", "data", "rule", "status", "words"),
    [
        ("setup.exe", b"MZ\x90\x00", "extension", 415, "Files with .exe are not accepted"),
        ("README", b"hello", "extension", 415, "no extension"),
        ("invoice.pdf.exe", files.pdf(), "extension", 415, ".exe"),
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00", "content", 415, "not an allowed type"),
        ("chart.pdf", files.image("PNG"), "mismatch", 422, "but the content is a PNG image"),
        ("letter.txt", files.docx(), "mismatch", 422, "the content is a Word document"),
        ("book.docx", files.xlsx(), "mismatch", 422, "the content is an Excel workbook"),
        ("empty.pdf", b"", "empty", 422, "empty"),
        ("/", files.pdf(), "name", 422, "needs a name"),
    ],
)
def test_refusals_name_their_rule(
    name: str, data: bytes, rule: str, status: int, words: str
) -> None:
    with pytest.raises(RefusedError) as refused:
        check(name, data, allowed=ALL)
    assert (refused.value.rule, refused.value.status) == (rule, status)
    assert words in refused.value.message


def test_a_type_left_out_of_the_settings_is_refused_by_extension_and_by_content() -> None:
    only_pdf = ("pdf",)
    with pytest.raises(RefusedError) as by_name:
        check("chart.png", files.image("PNG"), allowed=only_pdf)
    assert by_name.value.rule == "extension"
    assert "allowed: .pdf" in by_name.value.message
    with pytest.raises(RefusedError) as by_content:
        check("chart.pdf", files.image("PNG"), allowed=only_pdf)
    assert by_content.value.rule == "content"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (files.docx(extra={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}), "macros"),
        (files.zip_bomb(), "ZIP bomb"),
    ],
)
def test_office_files_with_macros_or_a_bomb_inside_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(RefusedError) as refused:
        check("letter.docx", data, allowed=ALL)
    assert refused.value.rule == "structure"
    assert words in refused.value.message


def test_a_macro_enabled_document_renamed_docx_is_not_a_docx() -> None:
    docm = files.docx(main=files.DOCM_MAIN)
    assert sniff(docm) is None
    with pytest.raises(RefusedError) as refused:
        check("letter.docx", docm, allowed=ALL)
    assert refused.value.rule == "content"


def test_a_plain_zip_and_binary_junk_are_no_type() -> None:
    plain_zip = files.ooxml(part="hello.txt", main="text/plain", body="hi")
    assert sniff(plain_zip) is None  # [Content_Types].xml names no Word or Excel main part
    assert sniff(b"PK\x03\x04 not really a zip") is None
    assert sniff(b"text with a NUL \x00 inside") is None
    assert sniff(b"\xff\xfe n\x00o\x00t\x00 utf-8") is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\bob\\Desktop\\report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("invoice\u202egpj.pdf", "invoice_gpj.pdf"),  # a right-to-left override, defused
        ("q3 <script>.pdf", "q3_script_.pdf"),
        ("  .hidden.txt", "hidden.txt"),
        ("Re\u0301sume\u0301.docx", "Résumé.docx"),  # NFC
        ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),  # 120 characters at most
    ],
)
def test_file_names_are_made_safe(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean
