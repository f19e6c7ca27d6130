"""``boundary-nlp serve``: a JSON API (``/v1/...``) and a web page, thin over the library.

Needs the ``[serve]`` extra (FastAPI + uvicorn). Every answer comes from the library's own
calls (``model.classify``, ``analyze``, ``FavorLedger``, ``to_dict``); this module only
checks requests, maps errors to JSON and serves the page in ``resources/serve/``.

Safety: without a token the app answers only requests addressed to a loopback name (a web
page elsewhere cannot rebind its DNS to reach it) and only JSON POST bodies (a form on
another site cannot post to it); with a token every ``/v1`` endpoint but ``/v1/health``
needs it. Bodies, lists and texts have size limits; errors are JSON saying what was wrong.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ._version import __version__
from .analysis import analyze
from .inputs import DEFAULT_MAX_CHARS
from .labels import chinese_name
from .ledger import FavorLedger
from .prediction import Prediction

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_ITEMS = 100
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_HISTORY = 50
MAX_CLIENT_CHARS = 200
MIN_TOKEN_CHARS = 16
TOKEN_ENV = "BOUNDARY_NLP_TOKEN"
_CONFIG_ENV = "BOUNDARY_NLP_SERVE_CONFIG"  # how `serve(workers=N)` hands settings to its workers
_PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

log = logging.getLogger("boundary_nlp.serve")


class ServeError(ValueError):
    """The server cannot start as asked (a non-loopback address without a token, a weak token...)."""


# --- request and response shapes (they document the API in /openapi.json) -----------------


class _Strict(BaseModel):
    # strict: "1" is not a number and 1 is not a text; forbid: a misspelt field is an error
    model_config = ConfigDict(strict=True, extra="forbid")


class ClassifyRequest(_Strict):
    text: str | None = Field(
        None, description="one message; give either text or texts", examples=["帮我带杯咖啡"]
    )
    texts: list[str] | None = Field(None, description="several messages (at most the server's --max-items)")
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="confidence below which a prediction is uncertain (default: the model's)",
    )


class TextRequest(_Strict):
    text: str = Field(description="one message", examples=["会议纪要发群里，另外帮我把考勤记录改一下"])
    threshold: float | None = Field(None, ge=0.0, le=1.0)


class RecordRequest(_Strict):
    client: str = Field(description="the client's name, as your team calls them", examples=["王经理"])
    text: str = Field(description="the client's request", examples=["帮我取个快递"])


class _Open(BaseModel):
    # answers are the library's to_dict(); fields it adds later pass through
    model_config = ConfigDict(extra="allow")


class AdviceOut(_Open):
    action: str
    reply: str


class EvidenceOut(_Open):
    term: str
    kind: str
    weight: float


class PredictionOut(_Open):
    label: str
    label_zh: str
    confidence: float
    probabilities: dict[str, float]
    uncertain: bool
    threshold: float | None = None
    truncated: bool = False
    evidence: list[EvidenceOut] = []
    advice: AdviceOut | None = None


class ClassifyListOut(_Open):
    results: list[PredictionOut]


class AskPartOut(_Open):
    text: str
    prediction: PredictionOut


class AnalysisOut(_Open):
    message: str
    parts: list[AskPartOut]
    overall: PredictionOut
    overall_part: int | None
    whole: PredictionOut
    reason: str


class DegreeStatusOut(_Open):
    client: str
    window_days: float
    limit: int
    courtesy_count: int
    over_limit: bool
    prohibited_count: int
    prohibited_total: int
    as_of: str | None
    advice: AdviceOut | None
    latest: PredictionOut | None = None


class LedgerEntryOut(_Open):
    client: str
    when: str
    text: str
    label: str
    confidence: float


class HistoryOut(_Open):
    client: str
    total: int
    entries: list[LedgerEntryOut]


class HealthOut(_Open):
    status: str
    version: str
    auth_required: bool


class ErrorOut(BaseModel):
    error: str = Field(description="what was wrong, in a sentence a person can act on")
    details: list[dict[str, str]] | None = Field(None, description="one entry per invalid field")


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "the body is not valid JSON"),
        (401, "a token is set and the request has none or a wrong one"),
        (413, "body, list or text over the limit"),
        (415, "the body is not sent as application/json"),
        (422, "a field is missing, empty or of the wrong type"),
    )
}


# --- helpers ---------------------------------------------------------------------------------


def classify_texts(model: Any, texts: Sequence[str], threshold: float | None = None) -> list[Prediction]:
    """The library's predictions for ``texts``, in order (one batch call to ``classify``)."""
    return model.classify(list(texts), threshold=threshold)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token, and tokens too short to resist guessing."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ServeError(
            f"the token must be at least {MIN_TOKEN_CHARS} characters; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if token is None and not is_loopback(host):
        raise ServeError(
            f"--host {host} is not a loopback address: anyone who reaches it could use the API "
            f"and read the ledger, so set a token with --token or the {TOKEN_ENV} environment variable"
        )


def _error(
    status: int, message: str, details: list[dict[str, str]] | None = None, **headers: str
) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers or None)


class _Refused(Exception):
    """A request refused with a status and a message (turned into the JSON error body)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    name = ""
    for part in parts:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name or "body"


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            return _error(400, f"the request body is not valid JSON{': ' + reason if reason else ''}")
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return _error(422, 'the request has no body: send a JSON object such as {"text": "..."}')
    details = [{"field": _field(e.get("loc", ())), "problem": str(e.get("msg", "invalid"))} for e in errors]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return _error(422, f"invalid request: {summary}", details)


class _Guard:
    """ASGI middleware: the Host check without a token, JSON-only POST bodies, the body size limit.

    The body is read here, up to the limit, and handed on whole: a body over the limit is
    refused before any of it is parsed.
    """

    def __init__(self, app: Any, max_body_bytes: int, check_host: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.check_host = check_host

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body = bytearray()
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_body_bytes:
                    refusal = _error(
                        413,
                        f"the request body is over {self.max_body_bytes} bytes; send fewer or shorter "
                        "texts per request (the server's --max-body-bytes)",
                    )
                    break
            if refusal is None:
                receive = _replay(bytes(body), receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: dict, headers: dict[str, str]) -> JSONResponse | None:
        if self.check_host:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback(name):
                return _error(
                    403,
                    f"this server has no token, so it answers only requests addressed to localhost or "
                    f"127.0.0.1, not to {host or 'no host'}; start it with --token to serve other names",
                )
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return _error(
                413, f"the request body is over {self.max_body_bytes} bytes (content-length {length})"
            )
        if scope["method"] in ("POST", "PUT", "PATCH"):
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return _error(
                    415,
                    f"send the body as JSON with the header 'content-type: application/json' "
                    f"(got {kind or 'no content-type'})",
                )
        return None


def _replay(body: bytes, receive: Callable) -> Callable:
    """``receive`` for the app: the whole body at once, then the connection's own messages."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _page_file(name: str) -> bytes:
    return resources.files("boundary_nlp").joinpath(f"resources/serve/{name}").read_bytes()


def _model_info(model: Any) -> dict[str, Any]:
    metadata = dict(getattr(model, "metadata", None) or {})
    labels = [str(label) for label in getattr(model, "classes_", metadata.get("labels", []))]
    path = getattr(model, "path", None)
    figures = {
        split: metadata[key]
        for split, key in (("dev", "dev_metrics"), ("test", "test_metrics"))
        if metadata.get(key)
    }
    return {
        "library_version": __version__,
        "model": {
            "file": None if path is None else Path(path).name,
            "created": metadata.get("created"),
            "trained_with": {
                "boundary_nlp": metadata.get("library_version"),
                "scikit_learn": metadata.get("sklearn_version"),
            },
            "refit_on": metadata.get("refit_on"),
            "chosen_params": metadata.get("chosen_params"),
            "training_counts": metadata.get("training_counts"),
        },
        "labels": labels,
        "labels_zh": {label: chinese_name(label) for label in labels},
        "uncertainty_threshold": getattr(model, "uncertainty_threshold", None),
        "max_chars": getattr(model, "max_chars", None),
        "figures": figures or None,
    }


# --- the app ---------------------------------------------------------------------------------


def create_app(
    model: Any = None,
    ledger_path: str | os.PathLike[str] | None = None,
    token: str | None = None,
    *,
    window_days: float = 7,
    limit: int = 3,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_text_chars: int = DEFAULT_MAX_CHARS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The FastAPI app: the ``/v1`` API, ``/openapi.json`` and the page at ``/``.

    ``model``: a loaded model, or a path for :func:`load_model`, or ``None`` for
    :func:`boundary_nlp.default_model`. ``ledger_path``: the degree ledger's SQLite file
    (default: the user's data directory); it is opened per request, so threads and worker
    processes share it safely. ``token``: when set, every ``/v1`` endpoint except health
    needs it as ``Authorization: Bearer <token>`` or ``X-API-Token: <token>``.
    ``window_days``/``limit``: the ledger's degree. ``max_items``, ``max_text_chars`` and
    ``max_body_bytes`` bound one request.
    """
    if model is None:
        from . import default_model

        model = default_model()
    elif isinstance(model, (str, os.PathLike)):
        from .persistence import load_model

        model = load_model(model)
    if token is not None and not token:
        raise ServeError("the token is empty: give a real token or none")
    # fail at start, not on the first request: a bad path or a foreign file raises here
    try:
        with FavorLedger(ledger_path, window_days=window_days, limit=limit):
            pass
    except (OSError, sqlite3.Error) as error:
        where = ledger_path if ledger_path is not None else "in the data directory"
        raise ServeError(f"cannot open the ledger {where}: {error}; choose another --ledger file") from error
    token_bytes = None if token is None else token.encode("utf-8")

    app = FastAPI(
        title="boundary-nlp",
        version=__version__,
        summary="Is a client's request the job (in_scope), a courtesy favor, or over the line (prohibited)?",
        description=(
            "JSON API over the boundary-nlp library. With a token set, send it as "
            "`Authorization: Bearer <token>` or `X-API-Token: <token>` (all but /v1/health). "
            'POST bodies must be `application/json`. Errors are `{"error": "..."}`.'
        ),
        docs_url=None,  # Swagger UI would load its assets from the internet
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.model = model
    app.add_middleware(_Guard, max_body_bytes=max_body_bytes, check_host=token is None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> JSONResponse:
        if exc.status == 401:
            return _error(401, exc.message, **{"WWW-Authenticate": "Bearer"})
        return _error(exc.status, exc.message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(
                404, f"no such page or endpoint: {request.url.path} (the API is listed at /openapi.json)"
            )
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(sqlite3.OperationalError)
    async def _busy(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
        log.warning("ledger error answering %s: %s", request.url.path, exc)
        return _error(
            503, f"the ledger could not be used just now ({exc}); try again", **{"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error answering %s %s", request.method, request.url.path)
        return _error(500, "internal error while answering; the server log has the details")

    async def authorized(request: Request) -> None:  # async: no thread hop for a header check
        if token_bytes is None:
            return
        given = request.headers.get("x-api-token")
        if given is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        if given is None or not hmac.compare_digest(given.encode("utf-8"), token_bytes):
            raise _Refused(
                401,
                "this server needs its API token: send 'Authorization: Bearer <token>' or "
                "'X-API-Token: <token>'" + ("" if given is None else " (the token sent is wrong)"),
            )

    def checked_text(text: str, where: str) -> str:
        if not text.strip():
            raise _Refused(422, f"{where} is empty: send the client's message")
        if len(text) > max_text_chars:
            raise _Refused(
                413, f"{where} has {len(text)} characters; the limit is {max_text_chars} (--max-text-chars)"
            )
        return text

    def ledger() -> FavorLedger:
        # one connection per request: sqlite3 connections belong to one thread, and WAL with
        # a busy timeout lets every thread and worker process write the same file
        return FavorLedger(ledger_path, window_days=window_days, limit=limit, model=model)

    def checked_client(client: str) -> str:
        if not client.strip():
            raise _Refused(422, "client is empty: name the client, for example 王经理")
        if len(client) > MAX_CLIENT_CHARS:
            raise _Refused(413, f"client has {len(client)} characters; the limit is {MAX_CLIENT_CHARS}")
        return client

    needs_token = [Depends(authorized)]
    # Endpoints return JSONResponse of the library's to_dict(): the response models document
    # the answers in /openapi.json without validating each one again (half the time per request).

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(_page_file("index.html"), media_type=_PAGE_FILES["index.html"], headers=_PAGE_HEADERS)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _PAGE_FILES or name == "index.html":
            raise HTTPException(404)
        return Response(_page_file(name), media_type=_PAGE_FILES[name], headers=_PAGE_HEADERS)

    @app.get("/v1/health", response_model=HealthOut, tags=["service"])
    def health() -> JSONResponse:
        """Up and answering; says whether the other endpoints need a token."""
        return JSONResponse(
            {"status": "ok", "version": __version__, "auth_required": token_bytes is not None}
        )

    @app.get("/v1/model", dependencies=needs_token, responses=_ERRORS, tags=["service"])
    def model_info() -> JSONResponse:
        """The model: version, labels, threshold, and its model card figures when it has them."""
        return JSONResponse(_model_info(model))

    @app.post(
        "/v1/classify",
        response_model=PredictionOut | ClassifyListOut,
        dependencies=needs_token,
        responses=_ERRORS,
        tags=["classify"],
    )
    def classify(body: ClassifyRequest) -> JSONResponse:
        """One message (`text`): its prediction. Several (`texts`): `{"results": [...]}` in order."""
        if (body.text is None) == (body.texts is None):
            raise _Refused(422, 'give either "text" (one message) or "texts" (a list of messages), not both')
        if body.text is not None:
            (prediction,) = classify_texts(model, [checked_text(body.text, "text")], body.threshold)
            return JSONResponse(prediction.to_dict())
        texts = body.texts or []
        if not texts:
            raise _Refused(422, "texts is an empty list: send at least one message")
        if len(texts) > max_items:
            raise _Refused(
                413, f"texts has {len(texts)} messages; the limit is {max_items} per request (--max-items)"
            )
        checked = [checked_text(text, f"texts[{i}]") for i, text in enumerate(texts)]
        return JSONResponse(
            {"results": [p.to_dict() for p in classify_texts(model, checked, body.threshold)]}
        )

    @app.post(
        "/v1/analyze",
        response_model=AnalysisOut,
        dependencies=needs_token,
        responses=_ERRORS,
        tags=["classify"],
    )
    def analyze_message(body: TextRequest) -> JSONResponse:
        """The asks of a message, each classified; `overall` is the most serious ask's prediction."""
        analysis = analyze(checked_text(body.text, "text"), model=model, threshold=body.threshold)
        return JSONResponse(analysis.to_dict())

    @app.post(
        "/v1/ledger/record",
        response_model=DegreeStatusOut,
        dependencies=needs_token,
        responses=_ERRORS,
        tags=["ledger"],
    )
    def ledger_record(body: RecordRequest) -> JSONResponse:
        """Classify a client's request, record it, and return the client's degree status."""
        client = checked_client(body.client)
        text = checked_text(body.text, "text")
        with ledger() as book:
            return JSONResponse(book.record(client, text).to_dict())

    @app.get(
        "/v1/ledger/status",
        response_model=DegreeStatusOut,
        dependencies=needs_token,
        responses=_ERRORS,
        tags=["ledger"],
    )
    def ledger_status(client: str = Query(description="the client's name")) -> JSONResponse:
        """A client's courtesy favors in the window, and whether they are over the degree."""
        with ledger() as book:
            return JSONResponse(book.status(checked_client(client)).to_dict())

    @app.get(
        "/v1/ledger/history",
        response_model=HistoryOut,
        dependencies=needs_token,
        responses=_ERRORS,
        tags=["ledger"],
    )
    def ledger_history(
        client: str = Query(description="the client's name"),
        last: int = Query(DEFAULT_HISTORY, ge=1, le=10_000, description="how many of the latest requests"),
    ) -> JSONResponse:
        """A client's recorded requests, the latest `last` of them, oldest first."""
        with ledger() as book:
            entries = book.history(checked_client(client))
        return JSONResponse(
            {
                "client": client.strip(),
                "total": len(entries),
                "entries": [entry.to_dict() for entry in entries[-last:]],
            }
        )

    return app


# --- running it ------------------------------------------------------------------------------


def _app_from_environment() -> FastAPI:
    """The app a ``--workers N`` process builds, from the settings its parent put in the environment."""
    settings = json.loads(os.environ[_CONFIG_ENV])
    return create_app(settings.pop("model"), settings.pop("ledger_path"), **settings)


def serve(
    model_path: str | None = None,
    ledger_path: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    token: str | None = None,
    *,
    access_log: bool = False,
    **limits: Any,
) -> None:
    """Run the service with uvicorn until interrupted; ``limits`` go to :func:`create_app`.

    Raises :class:`ServeError` for a non-loopback ``host`` without a token, before binding.
    With ``workers`` > 1 each worker process loads the model and opens the ledger itself.
    """
    import uvicorn

    check_bind(host, token)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ServeError(f"--workers must be 1 or more, got {workers!r}")
    options: dict[str, Any] = {"host": host, "port": port, "access_log": access_log, "log_level": "info"}
    if workers == 1:
        uvicorn.run(create_app(model_path, ledger_path, token, **limits), **options)
        return
    # check the model and ledger here, so a mistake is one error, not one per worker
    app = create_app(model_path, ledger_path, token, **limits)
    del app
    settings = {"model": model_path, "ledger_path": ledger_path, "token": token, **limits}
    os.environ[_CONFIG_ENV] = json.dumps(settings)
    uvicorn.run("boundary_nlp.serve:_app_from_environment", factory=True, workers=workers, **options)
