"""POST /explain's work: one explanation at a time (`ExplainGate`), of a bounded part of the text (`explain_text`).

An explanation is heavier than a prediction (one model call over n + 1 copies of the text,
n tokens), so it explains at most the first ``explain_max_words`` words of a text, runs in a
worker thread, one explanation at a time, with at most ``max_explain_queue`` more waiting
(more -> 503), all by the request's deadline (504). Token importance is
`lexiclass.inference.explain.label_occlusion`, the numbers of ``lexiclass explain``: for one class,
or for each of a multi-label run's chosen labels (from the same model calls).
"""

import asyncio
import math
import time

import numpy as np

from lexiclass.inference.explain import (EXPORT_KEEPS_NO_ATTENTION, TRANSFORMER_MODELS, attention_scores,
                                        has_attention, label_occlusion)
from lexiclass.inference.serve_schema import ApiError, Limits


class ExplainGate:
    """One explanation at a time (in a worker thread), at most ``max_waiting`` more queued for it.

    An explanation that outlives its request's deadline keeps the gate until its thread
    finishes (a thread cannot be stopped), so two never run at once.
    """

    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self.lock = asyncio.Lock()
        self.admitted = 0  # running + waiting
        self.seconds = 1.0  # running estimate of one explanation, for Retry-After

    def admit(self) -> None:
        if self.admitted > self.max_waiting:
            wait = int(min(60, max(1, math.ceil(self.admitted * self.seconds))))
            raise ApiError(503, f"server busy: {self.admitted} explanations running or queued; max_explain_queue = "
                                f"{self.max_waiting} may wait; retry in {wait} s", {"Retry-After": str(wait)})

    async def run(self, fn, deadline: float, timeout_s: float):
        """``fn()`` in a thread once the gate is free; 504 if ``deadline`` (loop time) passes first."""
        loop = asyncio.get_running_loop()
        self.admit()
        self.admitted += 1
        try:
            await asyncio.wait_for(self.lock.acquire(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            self.admitted -= 1
            raise ApiError(504, f"request not answered within request_timeout_s = {timeout_s:g} s (waiting for "
                                "other explanations); retry later") from None
        except BaseException:
            self.admitted -= 1
            raise
        began = time.perf_counter()

        def done(_):
            self.seconds = 0.7 * self.seconds + 0.3 * (time.perf_counter() - began)
            self.admitted -= 1
            self.lock.release()

        task = asyncio.ensure_future(asyncio.to_thread(fn))
        task.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise ApiError(504, f"explanation not finished within request_timeout_s = {timeout_s:g} s; "
                                "send a shorter text") from None


def explainable(predictor) -> bool:
    """Whether ``predictor`` is a run's (a config and a kind of input to occlude), not a bare ``predict_proba``."""
    return getattr(predictor, "config", None) is not None and hasattr(predictor, "input_kind")


def explain_text(predictor, text: str, target, limits: Limits) -> dict:
    """Token importance (and attention for Transformer runs) of the first ``explain_max_words`` words of ``text``.

    ``target``: a class id: ``"importance"`` is the drop in its probability per token; a list of label ids (a
    multi-label run's chosen labels): ``"explanations"``, ``[{"label": name, "importance": [...]}, ...]`` in order.
    """
    words = text.split()
    part = " ".join(words[:limits.explain_max_words])
    several = isinstance(target, (list, tuple))
    found = label_occlusion(predictor, part, list(target) if several else [target])
    rounded = [[round(float(v), 5) for v in row] for row in found.importance]
    result = {"tokens": [str(t) for t in found.tokens]}
    if several:
        result["explanations"] = [{"label": label, "importance": row} for label, row in zip(found.labels, rounded)]
    else:
        result["importance"] = rounded[0]
    result.update({"method": found.method, "words": len(words),
                   "words_explained": min(len(words), limits.explain_max_words), "attention": None,
                   "attention_skipped": None})
    if has_attention(predictor):
        att_tokens, scores = attention_scores(predictor, part)  # (heads, n, n)
        k = min(len(att_tokens), limits.explain_attention_tokens)
        shown = scores[:, :k, :k]
        result["attention"] = {"tokens": [str(t) for t in att_tokens[:k]], "tokens_total": len(att_tokens),
                               "max": round(float(shown.max(initial=0.0)), 5),
                               "weights": np.round(shown, 4).tolist()}  # (heads, k, k): row = attending token
    elif predictor.config.model in TRANSFORMER_MODELS:  # a Transformer's ONNX export: say why there are no maps
        # no server path in the answer (cf. /metadata): the CLI's explain names the run folder
        result["attention_skipped"] = EXPORT_KEEPS_NO_ATTENTION + "; the run folder it was exported from shows them"
    return result
