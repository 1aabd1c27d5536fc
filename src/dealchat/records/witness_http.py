"""The witness over HTTP: the server app of `dealchat witness serve`, and the platform's client.

Server (C2SP tlog-witness): `POST /add-checkpoint` (body: `old <size>`, proof lines, an empty
line, the checkpoint note; answer: the cosignature line, or 404 unknown log, 403 not signed by
it, 400 malformed, 409 `text/x.tlog.size` with the size it holds, 422 the proof fails, 413 over
64 KiB); `GET /latest?origin=` (the newest checkpoint it cosigned for that log, its cosignature
included; what `dealchat audit verify` compares the log with); `GET /healthz`.
"""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dealchat.records.cosignature import (
    MAX_REQUEST_BYTES,
    CosignerKey,
    RequestError,
    add_checkpoint_body,
    parse_add_checkpoint,
    split_note,
)
from dealchat.records.interfaces import (
    WitnessConflictError,
    WitnessRefusedLogError,
    WitnessUnavailableError,
)
from dealchat.records.notes import NoteError
from dealchat.records.witness import RefusalError, Witness

SIZE_TYPE = "text/x.tlog.size"


def create_witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        try:
            raw = await _bounded_body(request, MAX_REQUEST_BYTES)
            submitted = parse_add_checkpoint(raw)
        except _TooLargeError:
            return PlainTextResponse(f"over {MAX_REQUEST_BYTES} bytes\n", status_code=413)
        except RequestError as error:
            return PlainTextResponse(f"{error}\n", status_code=400)
        try:
            line = witness.add_checkpoint(submitted)
        except RefusalError as refused:
            if refused.status == 409 and refused.size is not None:
                return Response(f"{refused.size}\n", status_code=409, media_type=SIZE_TYPE)
            return PlainTextResponse(f"{refused.reason}\n", status_code=refused.status)
        return PlainTextResponse(line)

    async def latest(request: Request) -> Response:
        origin = request.query_params.get("origin", "")
        found = witness.latest(origin) if 0 < len(origin) <= 200 else None
        if found is None:
            return PlainTextResponse("no checkpoint cosigned for this log\n", status_code=404)
        return PlainTextResponse(found.note)

    async def health(_request: Request) -> Response:
        return PlainTextResponse(f"{witness.key.vkey}\n")

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/latest", latest, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


class _TooLargeError(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


class HttpWitness:
    """The platform's client of one witness: keep-alive connections, a timeout per call, and
    every cosignature checked against the key settings trust before it is believed."""

    def __init__(self, url: str, key: CosignerKey, *, timeout: float = 5.0) -> None:
        self.url, self.key = url.rstrip("/"), key
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    @property
    def name(self) -> str:
        return self.key.name

    def add_checkpoint(self, old_size: int, proof: list[bytes], note: str) -> str:
        try:
            answer = self._client.post(
                f"{self.url}/add-checkpoint",
                content=add_checkpoint_body(old_size, proof, note),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as error:
            raise WitnessUnavailableError(f"{type(error).__name__}: {error}") from error
        if answer.status_code == 409 and answer.headers.get("content-type", "").startswith(
            SIZE_TYPE
        ):
            text = answer.text.strip()
            if text.isdigit():
                raise WitnessConflictError(int(text))
        if answer.status_code == 422:
            raise WitnessRefusedLogError(answer.text.strip()[:200])
        if answer.status_code != 200:
            raise WitnessUnavailableError(f"HTTP {answer.status_code}: {answer.text.strip()[:200]}")
        return _cosignature_of(self.key, note, answer.text.splitlines())

    def latest(self, origin: str) -> str | None:
        try:
            answer = self._client.get(f"{self.url}/latest", params={"origin": origin})
        except httpx.HTTPError as error:
            raise WitnessUnavailableError(f"{type(error).__name__}: {error}") from error
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise WitnessUnavailableError(f"HTTP {answer.status_code}")
        return answer.text

    def close(self) -> None:
        self._client.close()


class LocalWitness:
    """A file witness opened in this process (the simplest deployment): the same checks."""

    def __init__(self, witness: Witness, key: CosignerKey) -> None:
        if witness.key != key:
            raise ValueError(
                f"the witness in {witness.directory} has key {witness.key.vkey}, "
                f"not the {key.vkey} settings name"
            )
        self.witness, self.key = witness, key

    @property
    def name(self) -> str:
        return self.key.name

    def add_checkpoint(self, old_size: int, proof: list[bytes], note: str) -> str:
        try:
            line = self.witness.add_checkpoint(
                parse_add_checkpoint(add_checkpoint_body(old_size, proof, note))
            )
        except RefusalError as refused:
            if refused.status == 409 and refused.size is not None:
                raise WitnessConflictError(refused.size, refused.reason) from refused
            if refused.status == 422:
                raise WitnessRefusedLogError(refused.reason) from refused
            raise WitnessUnavailableError(f"{refused.status}: {refused.reason}") from refused
        return _cosignature_of(self.key, note, [line.rstrip("\n")])

    def latest(self, origin: str) -> str | None:
        found = self.witness.latest(origin)
        return None if found is None else found.note

    def close(self) -> None:
        return None


def _cosignature_of(key: CosignerKey, note: str, lines: list[str]) -> str:
    try:
        body, _signatures = split_note(note)
    except NoteError as error:
        raise WitnessUnavailableError(str(error)) from error
    found = key.find(body, lines)
    if found is None:
        raise WitnessUnavailableError("the answer holds no valid cosignature by the witness's key")
    return found[0]
