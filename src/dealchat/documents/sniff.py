"""What an upload is, by its bytes and by its name, and whether the two agree. Pure: no I/O.

Each allowed type is recognised by its content (magic bytes and, for Office files, the ZIP's
structure: `[Content_Types].xml` naming the main part, `word/` or `xl/`, no macros, nothing
encrypted, no ZIP bomb), and by its extension; `check` accepts an upload only when both name the
same allowed type. A refusal is `RefusedError`: the rule that refused, the HTTP status and a message
that names the rule, safe to show to the uploader.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class DocType:
    name: str  # the settings' name: pdf, png, jpeg, text, csv, docx, xlsx
    label: str
    media_type: str
    extensions: tuple[str, ...]
    content: str  # what the bytes look like; csv and text share "text"


TYPES: dict[str, DocType] = {
    t.name: t
    for t in (
        DocType("pdf", "a PDF document", "application/pdf", (".pdf",), "pdf"),
        DocType("png", "a PNG image", "image/png", (".png",), "png"),
        DocType("jpeg", "a JPEG image", "image/jpeg", (".jpg", ".jpeg"), "jpeg"),
        DocType("text", "plain text", "text/plain; charset=utf-8", (".txt",), "text"),
        DocType("csv", "a CSV table", "text/csv; charset=utf-8", (".csv",), "text"),
        DocType(
            "docx",
            "a Word document (DOCX)",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            (".docx",),
            "docx",
        ),
        DocType(
            "xlsx",
            "an Excel workbook (XLSX)",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            (".xlsx",),
            "xlsx",
        ),
    )
}
DEFAULT_ALLOWED = tuple(TYPES)

# Office files: the main part's content type in [Content_Types].xml (a .docm or .xlsm names a
# macro-enabled one instead, so it is not recognised as DOCX or XLSX).
_OFFICE_MAIN = {
    "docx": ("word/", b"application/vnd.openxmlformats-officedocument.wordprocessingml.document."),
    "xlsx": ("xl/", b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
}
MAX_ZIP_ENTRIES = 5_000
MAX_ZIP_EXPANDED = 200 * 1024 * 1024  # the sum of the entries' declared sizes
MAX_ZIP_RATIO = 200  # expanded / compressed, over the whole archive
_CONTENT_TYPES_MAX = 256 * 1024
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NAME_MAX = 120


class RefusedError(Exception):
    """An upload refused: `rule` (size, empty, name, extension, content, mismatch, structure,
    virus, scan), the HTTP status for it, and a message naming the rule."""

    def __init__(self, rule: str, status: int, message: str) -> None:
        super().__init__(message)
        self.rule, self.status, self.message = rule, status, message


@dataclass(frozen=True)
class Checked:
    doc_type: DocType
    filename: str  # sanitised


def check(filename: str, data: bytes, *, allowed: tuple[str, ...]) -> Checked:
    """The type when extension and content agree on an allowed type; else RefusedError."""
    name = clean_filename(filename)
    if not data:
        raise RefusedError("empty", 422, "The file is empty.")
    by_name = _type_by_extension(name, allowed)
    found = sniff(data)
    if found is None or found not in {TYPES[a].content for a in allowed}:
        raise RefusedError(
            "content",
            415,
            f"The file's content is not an allowed type ({_allowed_labels(allowed)}).",
        )
    if by_name.content != found:
        raise RefusedError(
            "mismatch",
            422,
            f"The name says {by_name.label} ({_extension(name)}) but the content is "
            f"{_content_label(found)}: extension and content must agree.",
        )
    return Checked(by_name, name)


def _type_by_extension(name: str, allowed: tuple[str, ...]) -> DocType:
    extension = _extension(name)
    for key in allowed:
        if extension in TYPES[key].extensions:
            return TYPES[key]
    shown = extension or "no extension"
    raise RefusedError(
        "extension",
        415,
        f"Files with {shown} are not accepted; allowed: {', '.join(extensions(allowed))}.",
    )


def extensions(allowed: tuple[str, ...]) -> list[str]:
    return [ext for key in allowed for ext in TYPES[key].extensions]


def _allowed_labels(allowed: tuple[str, ...]) -> str:
    return ", ".join(TYPES[key].label for key in allowed)


def _content_label(content: str) -> str:
    return next(t.label for t in TYPES.values() if t.content == content)


def _extension(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f".{suffix.lower()}" if dot and stem else ""


def sniff(data: bytes) -> str | None:
    """The content kind of `data` (pdf, png, jpeg, docx, xlsx, text), or None when it is none of
    them. An Office file with macros, encryption or a suspicious expansion raises RefusedError."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    return "text" if _is_text(data) else None


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _TEXT_CONTROLS.search(text) is None


def _office(data: bytes) -> str | None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return None
    with archive:
        entries = archive.infolist()
        _check_archive(entries, len(data))
        names = {entry.filename for entry in entries}
        if "[Content_Types].xml" not in names:
            return None
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise RefusedError("structure", 422, "Office files with macros are not accepted.")
        types = _read_bounded(archive, "[Content_Types].xml")
    for kind, (folder, main) in _OFFICE_MAIN.items():
        if main in types and any(name.startswith(folder) for name in names):
            return kind
    return None


def _check_archive(entries: list[zipfile.ZipInfo], size: int) -> None:
    if len(entries) > MAX_ZIP_ENTRIES:
        raise RefusedError("structure", 422, f"The archive has more than {MAX_ZIP_ENTRIES} parts.")
    if any(entry.flag_bits & 0x1 for entry in entries):
        raise RefusedError(
            "structure", 422, "Encrypted (password-protected) files are not accepted."
        )
    expanded = sum(entry.file_size for entry in entries)
    if expanded > MAX_ZIP_EXPANDED or expanded > MAX_ZIP_RATIO * max(size, 1):
        raise RefusedError("structure", 422, "The file expands far beyond its size (a ZIP bomb?).")


def _read_bounded(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as part:
            data = part.read(_CONTENT_TYPES_MAX + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as error:
        raise RefusedError("structure", 422, "The Office file is damaged.") from error
    if len(data) > _CONTENT_TYPES_MAX:
        raise RefusedError("structure", 422, "The Office file's content types part is too large.")
    return data


def clean_filename(raw: str) -> str:
    """A safe display name: the last path part, NFC, letters, digits, space and `._-()` only
    (control, bidi and path characters become `_`), at most 120 characters, extension kept."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch if ch.isalnum() or ch in " ._-()" else "_" for ch in name)
    name = re.sub(r"[ _]{2,}", "_", name).strip(" ._")
    if not name:
        raise RefusedError("name", 422, "The file needs a name with an extension, e.g. report.pdf.")
    if len(name) > _NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        keep = suffix[:16] if dot else ""
        name = f"{(stem if dot else name)[: _NAME_MAX - len(keep) - 1]}.{keep}".rstrip(".")
    return name
