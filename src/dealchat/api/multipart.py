"""A bounded multipart/form-data reader for one uploaded file and a few small fields.

The body is read from the request stream chunk by chunk and counted as it comes: a declared
Content-Length over the cap is refused before reading, and a body that grows past it (chunked, or
lying about its length) is refused the moment it does. Nothing is spooled to disk: the file's
bytes stay in memory, and never more than the limit of them (a plaintext upload never touches a
temporary file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

# Room for the multipart framing, part headers and the small fields beside the file.
OVERHEAD_BYTES = 16 * 1024
MAX_FIELD_BYTES = 1024
MAX_PARTS = 4


class BodyTooLargeError(Exception):
    """More than the cap arrived (or was announced)."""


class BadFormError(Exception):
    """Not a multipart form we can read (no boundary, malformed, too many parts)."""


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None  # the file part's name as the browser gave it
    data: bytearray = field(default_factory=bytearray)
    file_seen: bool = False


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    buffer: bytearray = field(default_factory=bytearray)


class _Collector:
    def __init__(self, file_field: str, limit: int) -> None:
        self.form = Form()
        self.file_field, self.limit = file_field, limit
        self.part = _Part()
        self.parts = 0
        self._header_name = b""
        self._header_value = b""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise BadFormError(f"at most {MAX_PARTS} form parts")
        self.part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self.part.headers[self._header_name.decode("latin-1").lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_done(self) -> None:
        disposition, options = parse_options_header(self.part.headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise BadFormError("a part without a form-data name")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.part.filename = options[b"filename"].decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        is_file = self.part.name == self.file_field and self.part.filename is not None
        room = self.limit if is_file else MAX_FIELD_BYTES
        if len(self.part.buffer) + (end - start) > room:
            if is_file:
                raise BodyTooLargeError
            raise BadFormError(f"the field {self.part.name!r} is too long")
        self.part.buffer += data[start:end]

    def _end(self) -> None:
        part = self.part
        if part.name == self.file_field and part.filename is not None:
            if self.form.file_seen:
                raise BadFormError("one file per upload")
            self.form.file_seen, self.form.filename, self.form.data = (
                True,
                part.filename,
                part.buffer,
            )
        elif part.filename is None:
            self.form.fields[part.name] = part.buffer.decode("utf-8", "replace")


async def read_form(
    *,
    content_type: str | None,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    file_field: str,
    limit: int,
) -> Form:
    """The form's fields and its one file (at most `limit` bytes), read as it streams in."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadFormError("expected multipart/form-data with a boundary")
    cap = limit + OVERHEAD_BYTES
    if content_length is not None and content_length.isdigit() and int(content_length) > cap:
        raise BodyTooLargeError
    collector = _Collector(file_field, limit)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > cap:
                raise BodyTooLargeError
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        raise BadFormError("malformed multipart body") from error
    return collector.form


async def read_within(
    stream: AsyncIterator[bytes], *, content_length: str | None, cap: int
) -> bytes:
    """A whole body of at most `cap` bytes: refused before reading when the declared length is
    over, and the moment more arrives than that (chunked, or a length that lied)."""
    if content_length is not None and content_length.isdigit() and int(content_length) > cap:
        raise BodyTooLargeError
    body = bytearray()
    async for chunk in stream:
        if len(body) + len(chunk) > cap:
            raise BodyTooLargeError
        body += chunk
    return bytes(body)
