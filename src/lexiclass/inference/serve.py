"""HTTP API for a finished run: FastAPI app + uvicorn, with fair micro-batching across requests.

    POST /predict   {"texts": ["...", ...]} -> {"predictions": [{"label": ..., "probabilities": {...}}, ...]}
                    (a multi-label run: {"labels": [names over their thresholds], "probabilities": {...}})
    POST /explain   {"text": "..."} -> label, probabilities, token importance (and attention for Transformers);
                    a multi-label run: its labels, and token importance per chosen label ("explanations")
    GET  /health    {"status": "ok", "multi_label": ..., ...}
    GET  /metadata  model name, labels, multi-label thresholds, training config, test metrics, run info, limits
                    (no file paths)
    GET  /          a page to type a text and see the prediction explained (assets in ``web/``)
    GET  /docs      OpenAPI (Swagger UI) page, served from assets in the package (works offline);
                    /openapi.json is the schema

This module assembles the app (`create_app`) and runs it (`serve`); the parts are:

- `serve_schema`: the limits (`Limits`), the request schemas (pydantic models that both check
  every body and make the OpenAPI page) and the one-line errors. Every text is checked where
  it enters: a bad item fails its own request with a 4xx naming the item, before it can reach
  a model call shared with other requests;
- `request_clock`: a request's time counts from its arrival, before its body is read; the
  body must arrive within ``read_timeout_s`` (else 408, connection closed) and the answer
  within ``request_timeout_s`` (else 504, even while the body is still arriving);
- `batcher`: requests share model calls fairly (`MicroBatcher`), with a bounded queue (503
  with Retry-After) and the request's deadline (504, its remaining texts dropped);
- `explain_gate`: POST /explain, one explanation at a time, of the first ``explain_max_words``
  words, with a bounded queue (503) and the request's deadline (504);
- `serve_web`: the pages and their files, and the security headers.

Every error is a JSON ``{"error": "..."}`` naming the limit or the field at fault; no
traceback ever reaches a client (the server log keeps it).
"""

import asyncio
import contextlib
import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from lexiclass import __version__, run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.inference.batcher import MicroBatcher, fair_shares
from lexiclass.inference.explain import predicted_labels
from lexiclass.inference.explain_gate import ExplainGate, explain_text, explainable
from lexiclass.inference.predictor import Predictor, format_predictions
from lexiclass.inference.request_clock import RequestClock, client_gone, deadline, read_body
from lexiclass.inference.serve_schema import (ApiError, ApiRequest, ErrorResponse, ExplainResponse, Limits,
                                              MultiLabelExplainResponse, PredictResponse, check_content_type, parse,
                                              request_schemas, short)
from lexiclass.inference.serve_web import STATIC_FILES, SecurityHeaders, add_pages, check_examples, web_files

__all__ = ["ApiError", "ExplainGate", "Limits", "MicroBatcher", "STATIC_FILES", "check_content_type", "create_app",
           "explain_text", "fair_shares", "serve"]

log = logging.getLogger("lexiclass.serve")

ROUTES = "POST /predict, GET /health, GET /metadata, GET /docs, GET /openapi.json"  # also GET /, POST /explain
ERROR_DOCS = {code: {"model": ErrorResponse} for code in (400, 408, 413, 415, 422, 500, 503, 504)}


def create_app(predictor_or_run_dir, limits: Limits | None = None, examples: list[str] | None = None,
               **overrides) -> FastAPI:
    """A FastAPI app serving a `Predictor` (or the run directory to load one from).

    ``limits``: a `Limits` (default: its defaults) with ``overrides`` on top, any of its fields
    by name (``create_app(run, max_texts=16)``). ``examples``: texts the page at ``/`` offers
    to try (default: three short built-in film reviews).
    """
    limits = dataclasses.replace(limits or Limits(), **overrides)  # checked by Limits
    examples = check_examples(examples, limits)
    web = web_files()  # read once, fail before the model loads
    predictor = predictor_or_run_dir
    if not hasattr(predictor, "predict_proba"):
        predictor = Predictor.load(predictor_or_run_dir)
    metadata = {**_metadata(predictor, limits), "examples": examples}
    service = Service(predictor, limits, metadata)

    version = (predictor.info or {}).get("versions", {}).get("lexiclass") or __version__  # FastAPI needs one
    kind = ("Multi-label text classifier: each text gets the set of labels over their thresholds "
            '(`"labels"` in answers)' if metadata["multi_label"] else 'Text classifier (one `"label"` per text)')
    app = FastAPI(title="lexiclass", version=str(version),
                  description=f"{kind}: `{metadata['model']}` with labels {metadata['labels']}.",
                  lifespan=service.lifespan, docs_url=None, redoc_url=None)  # /docs: our own page, no CDN
    app.state.predictor, app.state.batcher, app.state.limits = predictor, service.batcher, limits
    app.state.explain_gate = service.gate
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestClock, limits=limits)  # outermost: the clock starts first
    _add_error_handlers(app)

    app.post("/predict", summary="Classify texts", responses={200: {"model": PredictResponse}, **ERROR_DOCS},
             openapi_extra=_body_doc(service.predict_schema))(service.predict)
    app.get("/health", summary="Liveness check")(service.health)
    app.get("/metadata", summary="Model, labels (multi-label: their thresholds), training config, test metrics "
                                 "and run info")(service.get_metadata)
    app.post("/explain", summary="Classify one text and explain it: token importance, attention",
             responses={200: {"model": ExplainResponse | MultiLabelExplainResponse}, **ERROR_DOCS,
                        501: {"model": ErrorResponse}},
             openapi_extra=_body_doc(service.explain_schema))(service.explain)
    add_pages(app, web)
    return app


def _body_doc(schema: type[ApiRequest]) -> dict:
    """The OpenAPI request body of a route that reads its body itself (`read_body`, then `parse`)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


class Service:
    """The routes' work around one predictor: its micro-batcher, explain gate, limits and request schemas."""

    def __init__(self, predictor, limits: Limits, metadata: dict):
        self.predictor, self.limits, self.metadata = predictor, limits, metadata
        self.thresholds = getattr(predictor, "thresholds", None)  # a multi-label run's decisions; else None
        self.batcher = MicroBatcher(predictor.predict_proba, limits.max_batch, limits.batch_wait_ms,
                                    limits.max_queue_texts, limits.request_timeout_s)
        self.gate = ExplainGate(limits.max_explain_queue)
        self.predict_schema, self.explain_schema = request_schemas(limits)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        try:  # trace the model once so the first client does not pay for it
            await asyncio.to_thread(self.predictor.predict_proba, ["warm up"])
        except Exception:
            log.exception("warm-up prediction failed; serving anyway")
        self.batcher.start()
        # What many texts need and one does not (an n-gram run's compiled loops) loads while we already answer.
        warming = asyncio.create_task(asyncio.to_thread(self._warm_up))
        yield
        await self.batcher.stop()
        await warming

    def _warm_up(self) -> None:
        try:
            self.predictor.warm_up()
        except Exception:
            log.exception("loading for many texts at once failed; serving anyway")

    async def predict(self, request: Request):
        answer_by = deadline(request, self.limits.request_timeout_s)
        check_content_type(request.headers.get("content-type"))
        self.batcher.admit(1)  # a full queue refuses before reading (and holding) a large body
        try:
            body = await read_body(request, self.limits.max_body_bytes)
        except ClientDisconnect:  # the client left mid-upload: nobody to answer
            return Response(status_code=400)
        texts = parse(body, self.predict_schema).texts
        try:
            probs = await self.batcher.predict(texts, client_gone=client_gone(request), deadline=answer_by)
        except ApiError:
            raise
        except Exception as exc:
            raise ApiError(500, f"prediction failed ({type(exc).__name__}); see the server log") from None
        return JSONResponse({"predictions": format_predictions(self.predictor.label_names, probs,
                                                               thresholds=self.thresholds)})

    async def health(self):
        running = self.batcher.running
        return JSONResponse({"status": "ok" if running else "starting", "model": self.metadata["model"],
                             "multi_label": self.metadata["multi_label"],
                             "queued_requests": len(self.batcher.jobs), "queued_texts": self.batcher.queued_texts},
                            status_code=200 if running else 503)

    async def get_metadata(self):
        return JSONResponse(self.metadata)

    async def explain(self, request: Request):
        check_content_type(request.headers.get("content-type"))
        if not explainable(self.predictor):
            raise ApiError(501, "this server's predictor cannot be explained (no run config)")
        self.batcher.admit(1)
        self.gate.admit()
        answer_by = deadline(request, self.limits.request_timeout_s)
        try:
            body = await read_body(request, self.limits.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=400)
        text = parse(body, self.explain_schema).text
        work = asyncio.ensure_future(self._explanation(text, answer_by))
        gone = asyncio.ensure_future(client_gone(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not work.done():  # the client hung up: stop waiting (a running explanation finishes in its thread)
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            return Response(status_code=400)
        try:
            return JSONResponse(work.result())
        except ApiError:
            raise
        except Exception as exc:
            log.error("explanation failed", exc_info=exc)
            raise ApiError(500, f"explanation failed ({type(exc).__name__}); see the server log") from None

    async def _explanation(self, text: str, answer_by: float) -> dict:
        """Label and probabilities of the whole text (through the /predict queue), then its explanation; a
        multi-label run's labels, and an explanation per chosen label (most probable first, at most
        `MAX_EXPLAINED_LABELS`; the most probable label when none is chosen)."""
        probs = (await self.batcher.predict([text], deadline=answer_by))[0]  # the whole text, as /predict sees it
        target = predicted_labels(self.predictor, probs) if self.thresholds is not None else int(np.argmax(probs))
        try:
            details = await self.gate.run(lambda: explain_text(self.predictor, text, target, self.limits), answer_by,
                                          self.limits.request_timeout_s)
        except LexiclassError as exc:  # e.g. no token survives standardization: "!!!"
            raise ApiError(422, f'"text" cannot be explained: {str(exc).splitlines()[0][:160]}') from None
        names = self.predictor.label_names
        prediction = format_predictions(names, probs[None], thresholds=self.thresholds)[0]
        if self.thresholds is None:
            return {"label": names[target], "probabilities": prediction["probabilities"], **details}
        thresholds = self.thresholds["thresholds"]
        details["explanations"] = [
            {"label": e["label"], "probability": float(probs[i]), "threshold": float(thresholds[i]),
             "chosen": e["label"] in prediction["labels"], "importance": e["importance"]}
            for i, e in zip(target, details["explanations"])]
        return {"labels": prediction["labels"], "probabilities": prediction["probabilities"], **details}


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": "one line"}``: ours, routing's (404, 405), and any other as a 500 without details."""

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        path = short(request.url.path, 60, quote=False)
        if exc.status_code == 404:
            message = f"no route {request.method} {path}; routes: {ROUTES}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {path}; routes: {ROUTES}"
        else:
            message = " ".join(str(exc.detail).split())
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return JSONResponse({"error": "; ".join(e.get("msg", "invalid") for e in exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal server error ({type(exc).__name__}); see the server log"},
                            status_code=500)


# --- GET /metadata ---------------------------------------------------------------------

_PATH = re.compile(r"""[^\s"':,;=]*[\\/][^\s"',;=]*""")  # a token holding a / or \\: a file path


def _strip_paths(value, run_dir: str | None = None):
    """``value`` (JSON-like) with every file path cut to its last component: no server directory leaves it."""
    if isinstance(value, dict):
        return {k: _strip_paths(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_paths(v, run_dir) for v in value]
    if isinstance(value, str):
        if run_dir:
            value = value.replace(run_dir, Path(run_dir).name)
        return _PATH.sub(lambda m: re.split(r"[\\/]", m.group(0).rstrip("\\/"))[-1], value)
    return value


def _metadata(predictor, limits: Limits) -> dict:
    metrics = None
    if predictor.run_dir is not None and (Path(predictor.run_dir) / rd.METRICS_FILE).exists():
        try:
            metrics = rd.read_json(Path(predictor.run_dir) / rd.METRICS_FILE)
        except Exception:  # a broken metrics file must not stop serving
            log.warning("cannot read %s", Path(predictor.run_dir) / rd.METRICS_FILE)
    config = predictor.config.to_dict() if predictor.config is not None else {}
    # Data paths (dataset, imdb_archive, glove, data_source "imdb:/home/...") keep only their file name.
    run_dir = str(predictor.run_dir) if predictor.run_dir is not None else None
    thresholds = getattr(predictor, "thresholds", None)
    return {"model": config.get("model"), "labels": list(predictor.label_names),
            "multi_label": thresholds is not None,
            "thresholds": None if thresholds is None else {  # label -> the probability over which it is predicted
                name: float(t) for name, t in zip(predictor.label_names, thresholds["thresholds"])},
            "threshold_rule": None if thresholds is None else thresholds.get("rule"),
            "at_least_one": None if thresholds is None else bool(thresholds.get("at_least_one")),
            "config": _strip_paths(config, run_dir), "test_metrics": metrics,
            "run": _strip_paths(predictor.info, run_dir), "limits": dataclasses.asdict(limits)}


def serve(run_dir, host: str = "127.0.0.1", port: int = 8000, **settings) -> None:
    """Load ``run_dir`` and serve it with uvicorn until interrupted (``settings``: see `create_app`)."""
    app = create_app(run_dir, **settings)
    print(f"serving {run_dir} on http://{host}:{port}/  (try it in a browser there; API docs: "
          f"http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
