"""Fair micro-batching: requests share model calls, and none waits behind another's long request.

`MicroBatcher`: one asyncio worker forms batches of up to ``max_batch`` texts, waiting up to
``batch_wait_ms`` for company, and runs ``predict_proba`` on them in a thread (the event loop
keeps accepting requests; one model call runs at a time). Backpressure and fairness:

- a request is cut into chunks; each batch gives every waiting request an equal share
  (`fair_shares`), so a one-text request waits for about one model call, not behind a
  256-text request;
- at most ``max_queue_texts`` texts wait; past that the answer is 503 with Retry-After;
- a request not answered by its deadline gets 504; its remaining texts are dropped from the
  queue (no model time is spent on them), as are a hung-up client's;
- if a batch's model call fails, each request in it is retried alone, so one bad request
  cannot fail the others.
"""

import asyncio
import collections
import contextlib
import logging
import math
import time

import numpy as np

from lexiclass.inference.serve_schema import ApiError

log = logging.getLogger("lexiclass.serve")


def fair_shares(pending: list[int], capacity: int) -> list[int]:
    """Texts to take from each request for one batch: equal shares, unused shares passed on.

    ``fair_shares([200, 1, 5], 8)`` -> ``[4, 1, 3]``: every request gets at least one text in
    (while capacity lasts, earlier requests first), and no request can crowd out the others.
    """
    take = [0] * len(pending)
    active = [i for i, n in enumerate(pending) if n > 0]
    while capacity > 0 and active:
        share = max(1, capacity // len(active))
        for i in list(active):
            k = min(share, pending[i] - take[i], capacity)
            take[i] += k
            capacity -= k
            if take[i] == pending[i]:
                active.remove(i)
            if capacity == 0:
                break
    return take


class Job:
    """One request in the queue: its texts, how many went to the model, and its (n, classes) result so far."""

    def __init__(self, texts: list[str], future: asyncio.Future):
        self.texts = texts
        self.future = future
        self.next = 0  # texts[:next] have been given to the model
        self.filled = 0  # rows of `probs` received
        self.probs: np.ndarray | None = None  # (len(texts), classes)

    @property
    def pending(self) -> int:
        return len(self.texts) - self.next

    def deliver(self, start: int, rows: np.ndarray) -> None:
        """Store ``rows`` (k, classes) for texts[start:start + k]; answer the request when all are in."""
        if self.future.done():  # timed out or the client left
            return
        if self.probs is None:
            self.probs = np.empty((len(self.texts), rows.shape[1]))
        self.probs[start:start + len(rows)] = rows
        self.filled += len(rows)
        if self.filled == len(self.texts):
            self.future.set_result(self.probs)

    def fail(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class MicroBatcher:
    """Bounded queue of requests (`Job`s); `run` serves their chunks fairly in shared `predict_proba` calls."""

    def __init__(self, predict_proba, max_batch: int, wait_ms: float, max_queue_texts: int = 1024,
                 timeout_s: float = 30.0):
        self.predict_proba = predict_proba
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.max_queue_texts = max_queue_texts
        self.timeout_s = timeout_s
        self.jobs: collections.deque[Job] = collections.deque()  # requests with texts not yet given to the model
        self.wakeup: asyncio.Event | None = None  # made in `start`, in the serving event loop
        self.task: asyncio.Task | None = None
        self.seconds_per_text = 0.01  # running estimate, for Retry-After

    def start(self) -> None:
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self.run(), name="lexiclass-microbatcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def queued_texts(self) -> int:
        return sum(job.pending for job in self.jobs if not job.future.done())

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (1 to 60), for the Retry-After header."""
        return int(min(60, max(1, math.ceil(self.queued_texts * self.seconds_per_text))))

    def admit(self, n: int) -> None:
        """Refuse a request of ``n`` texts when the queue is full (one request alone is always let in)."""
        queued = self.queued_texts
        if queued and queued + n > self.max_queue_texts:
            wait = self.retry_after()
            raise ApiError(503, f"server busy: {queued} texts queued, {n} more would exceed max_queue_texts = "
                                f"{self.max_queue_texts}; retry in {wait} s", {"Retry-After": str(wait)})

    async def predict(self, texts: list[str], client_gone=None, deadline: float | None = None) -> np.ndarray:
        """(len(texts), classes) probabilities, computed together with other waiting requests.

        ``client_gone``: an awaitable that finishes if the client hangs up; the request then
        leaves the queue, so no model time is spent on it. ``deadline``: the event loop's time
        by which to answer (default: ``timeout_s`` from now; the server passes the request's
        arrival plus ``timeout_s``, so time spent reading its body counts too).
        """
        if not self.running:
            raise ApiError(503, "the prediction worker is not running", {"Retry-After": "1"})
        self.admit(len(texts))
        loop = asyncio.get_running_loop()
        remaining = self.timeout_s if deadline is None else deadline - loop.time()
        job = Job(texts, loop.create_future())
        if remaining > 0:  # else it is late already: 504 below, and never queued
            self.jobs.append(job)
            self.wakeup.set()
        watcher = None if client_gone is None else asyncio.ensure_future(client_gone)
        if watcher is not None:
            watcher.add_done_callback(lambda _: job.future.cancel())
        try:  # on timeout wait_for cancels the future: the worker then skips the rest of this job
            return await asyncio.wait_for(job.future, max(0.0, remaining))
        except TimeoutError:
            raise ApiError(504, f"request not answered within request_timeout_s = {self.timeout_s:g} s "
                                f"({len(texts)} texts, {job.filled} done); retry later or send fewer texts") from None
        except asyncio.CancelledError:
            if watcher is None or not watcher.done():
                raise  # the server is stopping
            raise ApiError(400, "the client disconnected before its answer") from None  # nobody reads it
        finally:
            job.future.cancel()  # no-op if answered
            if watcher is not None:
                watcher.cancel()
            self._drop_finished()

    def _drop_finished(self) -> None:
        for job in [j for j in self.jobs if j.future.done() or not j.pending]:
            self.jobs.remove(job)

    async def _wait_for_work(self) -> None:
        """Until a request is queued, then up to wait_s more while the queue holds less than a batch."""
        loop = asyncio.get_running_loop()
        while not self.queued_texts:
            self.wakeup.clear()
            await self.wakeup.wait()
        deadline = loop.time() + self.wait_s
        while self.queued_texts < self.max_batch and (remaining := deadline - loop.time()) > 0:
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), remaining)

    def _take(self) -> list[tuple[Job, int, int]]:
        """The next batch as ``(job, start, stop)`` slices: fair shares of up to max_batch texts."""
        self._drop_finished()
        jobs = list(self.jobs)
        batch = []
        for job, k in zip(jobs, fair_shares([j.pending for j in jobs], self.max_batch)):
            if k:
                batch.append((job, job.next, job.next + k))
                job.next += k
        self.jobs.rotate(-1)  # the next batch starts with another request (leftover capacity goes round)
        self._drop_finished()
        return batch

    async def _call_model(self, batch: list[tuple[Job, int, int]]) -> None:
        """One model call for ``batch``; if it fails, each request's part is retried alone."""
        batch = [part for part in batch if not part[0].future.done()]  # skip requests that timed out meanwhile
        if not batch:
            return
        texts = [text for job, start, stop in batch for text in job.texts[start:stop]]
        began = time.perf_counter()
        try:
            probs = np.asarray(await asyncio.to_thread(self.predict_proba, texts))  # (len(texts), classes)
            if probs.ndim != 2 or len(probs) != len(texts):
                raise ValueError(f"predict_proba returned shape {probs.shape} for {len(texts)} texts")
        except Exception as exc:
            log.exception("prediction failed for a batch of %d texts from %d requests", len(texts), len(batch))
            if len(batch) == 1:
                batch[0][0].fail(exc)
                return
            for part in batch:  # defence in depth: find the culprit, let the innocent through
                await self._call_model([part])
            return
        self.seconds_per_text = 0.8 * self.seconds_per_text + 0.2 * (time.perf_counter() - began) / len(texts)
        offset = 0
        for job, start, stop in batch:
            job.deliver(start, probs[offset:offset + stop - start])
            offset += stop - start

    async def run(self) -> None:
        while True:
            await self._wait_for_work()
            batch = self._take()
            try:
                await self._call_model(batch)
            except Exception as exc:  # a bug here must not stop the worker that every later request needs
                log.exception("the prediction worker failed on a batch; serving on")
                for job, _, _ in batch:
                    job.fail(exc)
