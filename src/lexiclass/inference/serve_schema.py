"""The HTTP API's contract: its limits, its request and response schemas, and its one-line errors.

The pydantic models here are the request schemas, once: `PredictRequest`'s and
`ExplainRequest`'s fields and constraints both validate every body and make the OpenAPI
page (``/docs``). Validation goes in two steps, each with its own kind of message:

1. `load_json`: the bytes as JSON, with Python's own messages (``malformed JSON: Expecting
   value at line 1 column 1``, 400); integers are read as floats, so a 5000-digit number is a
   number (to refuse as such) rather than an error of the JSON reader;
2. `parse`: the JSON value against the model; pydantic's errors become the first problem in
   reading order (the body, then its fields, then each text by index) as one line naming
   the field or item, with 413 for a size limit and 422 otherwise (`refusal`).
"""

import json
import math
from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import PydanticCustomError

from lexiclass.errors import LexiclassError
from lexiclass.inference.explain import MAX_EXPLAINED_LABELS
from lexiclass.inference.predictor import text_problem


class ApiError(Exception):
    """An HTTP error answered as ``{"error": message}`` with ``status`` (and extra ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Limits:
    max_texts: int = 256  # texts per request
    max_chars: int = 100_000  # characters per text
    max_body_bytes: int = 5_000_000  # request body
    max_batch: int = 32  # texts per model call, across requests (long reviews: big calls cost more per text)
    batch_wait_ms: float = 5.0  # how long the first queued request waits for company
    max_queue_texts: int = 1024  # texts waiting for the model, all requests together; more -> 503 + Retry-After
    request_timeout_s: float = 30.0  # from the request's arrival (body reading included) to answer; later -> 504
    explain_max_words: int = 200  # POST /explain explains the first this many words (cost ~ words squared)
    explain_attention_tokens: int = 48  # attention maps: weights among the first this many tokens
    max_explain_queue: int = 4  # explanations waiting for the one running; more -> 503 + Retry-After
    read_timeout_s: float = 10.0  # the whole body must arrive within this of the request; later -> 408, closed

    def __post_init__(self):
        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch", "max_queue_texts",
                     "explain_max_words", "explain_attention_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LexiclassError(f"{name} must be an integer >= 1, got {value!r}")
        value = self.max_explain_queue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LexiclassError(f"max_explain_queue must be an integer >= 0, got {value!r}")
        if not self.batch_wait_ms >= 0:  # also refuses NaN
            raise LexiclassError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")
        for name in ("request_timeout_s", "read_timeout_s"):
            if not (0 < getattr(self, name) < math.inf):
                raise LexiclassError(f"{name} must be > 0 seconds, got {getattr(self, name)}")


# --- one-line messages -------------------------------------------------------------------

def json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def short(text: str, limit: int = 40, quote: bool = True) -> str:
    """``repr(text)`` cut to ``limit`` characters: error messages stay one short line whatever the client sent."""
    r = repr(text) if quote else repr(text)[1:-1]  # escaped newlines and control characters either way
    return r if len(r) <= limit else r[:limit - 3] + "..."


def check_content_type(value: str | None) -> None:
    """Accept JSON (or no Content-Type, like curl --data-binary): anything else is a 415 naming it."""
    if value is None:
        return
    media, *params = [part.strip().lower() for part in value.split(";")]
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, f"Content-Type {short(value)} is not supported; send application/json")
    for param in params:
        key, _, charset = param.partition("=")
        if key.strip() == "charset" and charset.strip().strip('"') not in ("utf-8", "utf8"):
            raise ApiError(415, f"charset {short(charset.strip())} is not supported; send UTF-8 JSON")


def _number(digits: str) -> float:
    # json.loads turns integers into int, which refuses more than 4300 digits (a ValueError, not a
    # JSONDecodeError). No number is a valid text anyway, so keep it as a float (inf if huge).
    return float(digits)


def load_json(body: bytes):
    """The JSON value of ``body``, or a 400 in the words of Python's JSON reader."""
    try:
        return json.loads(body, parse_int=_number)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text (bad byte at position {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:  # anything else json refuses: still the client's body, never a 500
        raise ApiError(400, f"malformed JSON: {str(exc).splitlines()[0][:80]}") from None


# --- the schemas ---------------------------------------------------------------------------

def _usable(text: str) -> str:
    """A text's checks beyond its type and length: some non-space character, and UTF-8-encodable."""
    if not text.strip():
        raise PydanticCustomError("blank_text", "is empty or only whitespace")
    if text_problem(text):
        raise PydanticCustomError("unusable_text", "is not valid Unicode text")
    return text


class ApiRequest(BaseModel):
    """A JSON object with exactly the schema's fields; strict: no number passes for a string."""

    model_config = ConfigDict(extra="forbid", strict=True)
    FIELD: ClassVar[str]  # the one field
    SHAPE: ClassVar[str]  # the body, for messages
    EXAMPLE: ClassVar[str]  # a whole body, for "missing field" messages
    LIMITS: ClassVar[Limits]  # the sizes `request_schemas` gave the field


class PredictRequest(ApiRequest):
    """POST /predict's body; its field ``texts`` is made by `request_schemas`."""

    FIELD: ClassVar[str] = "texts"
    SHAPE: ClassVar[str] = '{"texts": [...]}'
    EXAMPLE: ClassVar[str] = '{"texts": ["a review", ...]}'


class ExplainRequest(ApiRequest):
    """POST /explain's body; its field ``text`` is made by `request_schemas`."""

    FIELD: ClassVar[str] = "text"
    SHAPE: ClassVar[str] = '{"text": "..."}'
    EXAMPLE: ClassVar[str] = '{"text": "a review"}'


def request_schemas(limits: Limits) -> tuple[type[PredictRequest], type[ExplainRequest]]:
    """`PredictRequest` and `ExplainRequest` with ``limits``' sizes: what a server checks and its /docs shows."""
    text = Annotated[str, Field(min_length=1, max_length=limits.max_chars), AfterValidator(_usable)]
    predict = create_model("PredictRequest", __base__=PredictRequest, texts=(list[text], Field(
        min_length=1, max_length=limits.max_texts, examples=[["A wonderful film."]],
        description=f"1 to {limits.max_texts} texts of at most {limits.max_chars} characters")))
    explain = create_model("ExplainRequest", __base__=ExplainRequest, text=(text, Field(
        examples=["A wonderful film."], description=f"one text of at most {limits.max_chars} characters; "
                                                    f"the first {limits.explain_max_words} words are explained")))
    predict.LIMITS = explain.LIMITS = limits
    return predict, explain


def parse(body: bytes, schema: type[ApiRequest]) -> ApiRequest:
    """``body`` as a valid ``schema`` (from `request_schemas`), or the `ApiError` of its first problem."""
    payload = load_json(body)
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        raise refusal(exc, payload, schema) from None


def refusal(exc: ValidationError, payload, schema: type[ApiRequest]) -> ApiError:
    """The first of pydantic's errors as one line, in reading order: the body, its fields, the field, its items."""
    if not isinstance(payload, dict):
        return ApiError(422, f"the body must be a JSON object {schema.SHAPE}, got a JSON {json_type(payload)}")
    # Fields from the body's keys: pydantic refuses a key holding a lone surrogate as a bad body, not an unknown field
    if schema.FIELD not in payload:
        texts_instead = schema.FIELD == "text" and "texts" in payload
        hint = ' (one text per explanation; "texts" is for /predict)' if texts_instead else ""
        return ApiError(422, f'missing field "{schema.FIELD}": send {schema.EXAMPLE}{hint}')
    unknown = sorted(set(payload) - {schema.FIELD})
    if unknown:
        names = ", ".join(short(k) for k in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        return ApiError(422, f"unknown field(s) {names}; the body is {schema.SHAPE}")
    # the field's error: the list's own before its items' (which pydantic lists by index)
    error = min(exc.errors(include_url=False), key=lambda e: len(e["loc"]))
    value, limits = payload[schema.FIELD], schema.LIMITS
    if len(error["loc"]) == 2:  # ("texts", i)
        i = error["loc"][1]
        return _text_refusal(error["type"], f'"{schema.FIELD}"[{i}]', value[i], limits)
    if schema.FIELD == "text":
        return _text_refusal(error["type"], '"text"', value, limits)
    if error["type"] == "too_short":
        return ApiError(422, '"texts" is empty: send at least one text')
    if error["type"] == "too_long":
        return ApiError(413, f'"texts" has {len(value)} items; max_texts = {limits.max_texts} per request')
    return ApiError(422, f'"texts" must be a list of strings, got a JSON {json_type(value)}')


def _text_refusal(kind: str, where: str, text, limits: Limits) -> ApiError:
    """One text's problem, pydantic's error ``kind`` in words."""
    if kind == "string_type":
        return ApiError(422, f"{where} must be a string, got a JSON {json_type(text)}")
    if kind == "string_too_long" or len(text) > limits.max_chars:  # pydantic cannot measure a lone surrogate's text
        return ApiError(413, f"{where} has {len(text)} characters; max_chars = {limits.max_chars}")
    if kind in ("string_too_short", "blank_text"):
        return ApiError(422, f"{where} is empty or only whitespace: send some text to classify")
    # "unusable_text", or pydantic's own "string_unicode" (it refuses a lone surrogate before our check)
    return ApiError(422, f"{where} {text_problem(text) or 'is not valid Unicode'}; send valid Unicode text")


# --- responses (for /docs) --------------------------------------------------------------

class Prediction(BaseModel):
    """A single-label run's answer for one text."""

    label: str = Field(description="the most probable class")
    probabilities: dict[str, float] = Field(description="every class's probability (they sum to 1)")


class LabelSetPrediction(BaseModel):
    """A multi-label run's answer for one text."""

    labels: list[str] = Field(description="every label whose probability reaches its threshold (GET /metadata's "
                                          '"thresholds"), most probable first; empty if none does, unless the run '
                                          'gives every text one ("at_least_one")')
    probabilities: dict[str, float] = Field(description="each label's own probability, independent of the others "
                                                        "(they need not sum to 1)")


class PredictResponse(BaseModel):
    predictions: list[Prediction | LabelSetPrediction] = Field(
        description='in request order; {"label", ...} from a single-label run, {"labels", ...} from a multi-label one')


class ErrorResponse(BaseModel):
    error: str


class Attention(BaseModel):
    tokens: list[str]
    tokens_total: int
    max: float
    weights: list[list[list[float]]] = Field(description="(heads, tokens, tokens): row = attending token")


class ExplainResponse(BaseModel):
    """A single-label run's explanation."""

    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    importance: list[float] = Field(description="drop in P(label) when the token is hidden")
    method: str
    words: int
    words_explained: int
    attention: Attention | None = Field(description="Transformer runs only")
    attention_skipped: str | None = Field(None, description="why a Transformer's attention is missing (an ONNX "
                                                            "export keeps no attention layers)")


class LabelExplanation(BaseModel):
    label: str
    probability: float
    threshold: float
    chosen: bool = Field(description="false only when no label is chosen: the most probable one is explained")
    importance: list[float] = Field(description="drop in P(label) when the token is hidden: this label's own "
                                                "probability (a token can support one label and oppose another)")


class MultiLabelExplainResponse(BaseModel):
    """A multi-label run's explanation: one per chosen label."""

    labels: list[str] = Field(description="the labels over their thresholds, most probable first (as /predict)")
    probabilities: dict[str, float]
    tokens: list[str]
    explanations: list[LabelExplanation] = Field(description=f"the chosen labels, most probable first (at most "
                                                             f"{MAX_EXPLAINED_LABELS})")
    method: str
    words: int
    words_explained: int
    attention: Attention | None = Field(description="Transformer runs only")
    attention_skipped: str | None = Field(None, description="why a Transformer's attention is missing (an ONNX "
                                                            "export keeps no attention layers)")
