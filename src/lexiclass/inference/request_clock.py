"""When a request's time starts, and how long its body may take to arrive.

`RequestClock` (ASGI middleware) notes when each HTTP request arrives: once its headers are
in, before any of its body is read.

- ``request_timeout_s`` counts from that moment (`deadline`): time spent receiving the body
  leaves less for the model, and a body still arriving when the time is up gets its 504
  then, not after it has arrived.
- The whole body must arrive within ``read_timeout_s`` of that moment: a client that sends
  it slower (one byte at a time, say) gets 408 and its connection is closed, so slow clients
  cannot hold connections (uvicorn's ``timeout_keep_alive`` covers only idle connections
  between requests, and h11 has no timeout for a body).
- An answer given before its request's body was read (404, 413, 503, ...) first reads and
  drops the rest of the body, for at most ``LINGER_S`` seconds and ``max_body_bytes`` bytes,
  so that the connection can carry the client's next request; if the body is still arriving
  after that, the answer closes the connection.
"""

import asyncio

from lexiclass.inference.serve_schema import ApiError, Limits, short

ARRIVED = "lexiclass.arrived"  # scope key: the event loop's time when the request arrived
LINGER_S = 1.0  # how long an answer given before its request's body was read waits for the rest of it


def deadline(request, timeout_s: float) -> float:
    """The event loop's time by which ``request`` must be answered: its arrival plus ``timeout_s``."""
    arrived = request.scope.get(ARRIVED)
    return (asyncio.get_running_loop().time() if arrived is None else arrived) + timeout_s


async def read_body(request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes by Content-Length or by bytes actually received."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"Content-Length header {short(declared)} is not a byte count")
        if int(declared) > limit:
            raise ApiError(413, f"request body of {int(declared)} bytes exceeds max_body_bytes = {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked bodies have no Content-Length: count as we go
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body exceeds max_body_bytes = {limit} (stopped reading at {size} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


async def client_gone(request) -> None:
    """Returns when the client hangs up: once the body is read, the next ASGI message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class RequestClock:
    """ASGI middleware: each HTTP request's arrival time, and deadlines for its body (see the module)."""

    def __init__(self, app, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        body = _Body(scope, receive, send, self.limits)
        await self.app(scope, body.receive, body.send)


class _Body:
    """One request's body as it arrives: `receive` with its deadlines, `send` that settles the body first."""

    def __init__(self, scope, receive, send, limits: Limits):
        self.loop = asyncio.get_running_loop()
        arrived = scope[ARRIVED] = self.loop.time()
        self.read_by = arrived + limits.read_timeout_s
        self.answer_by = arrived + limits.request_timeout_s
        self.limits = limits
        self._receive, self._send = receive, send
        headers = dict(scope["headers"])  # names are lower-case in ASGI
        # h11 has checked Content-Length (digits only); without it or Transfer-Encoding there is no body
        self.complete = int(headers.get(b"content-length", b"0")) == 0 and b"transfer-encoding" not in headers
        self.waits_for_continue = headers.get(b"expect", b"").lower() == b"100-continue"
        self.received = 0  # body bytes so far
        self.late = False  # the body missed a deadline: the answer closes the connection

    async def receive(self) -> dict:
        if self.complete:  # the body is in: what follows is the client hanging up, whenever it does
            return await self._receive()
        try:
            return await self._next(min(self.read_by, self.answer_by))
        except TimeoutError:
            self.late = True
            if self.answer_by <= self.read_by:
                raise ApiError(504, f"request not answered within request_timeout_s = "
                                    f"{self.limits.request_timeout_s:g} s: its body was still arriving "
                                    f"({self.received} bytes received); send the body at once") from None
            raise ApiError(408, f"request body not received within read_timeout_s = {self.limits.read_timeout_s:g} s "
                                f"({self.received} bytes received); send the body at once") from None

    async def _next(self, until: float) -> dict:
        """The next message of the body, or TimeoutError at loop time ``until``."""
        message = await asyncio.wait_for(self._receive(), max(0.0, until - self.loop.time()))
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:  # http.disconnect
            self.complete = True
        return message

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start" and not self.complete:
            if not self.late:
                await self._linger()
            if not self.complete:  # the rest of the body would hold the connection: close it after the answer
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await self._send(message)

    async def _linger(self) -> None:
        """Read and drop the rest of the body, briefly, so that the connection can carry the next request."""
        if self.waits_for_continue and not self.received:  # the client sends no body until told to: never
            return
        until = min(self.read_by, self.loop.time() + LINGER_S)
        dropped = 0
        while not self.complete and dropped <= self.limits.max_body_bytes:
            try:
                message = await self._next(until)
            except TimeoutError:
                return
            dropped += len(message.get("body", b""))
