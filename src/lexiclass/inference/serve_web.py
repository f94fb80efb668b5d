"""The server's pages and their files: ``/`` (try the model), ``/docs`` (Swagger UI), ``/static/...``.

Everything is served from the package (``web/``, read once when the app is made): no CDN, so
the pages work offline. Every response carries ``X-Content-Type-Options: nosniff``
(`SecurityHeaders`); the HTML pages a Content-Security-Policy that allows only the server's own
scripts, styles and connections (no inline script, no framing).
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from lexiclass.errors import LexiclassError
from lexiclass.inference.serve_schema import Limits

WEB_DIR = Path(__file__).with_name("web")
# name -> media type: the only files GET /static/{name} serves (all shipped as package data)
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
STATIC_PATHS = {"swagger-ui-bundle.js": "vendor/swagger-ui/swagger-ui-bundle.js",
                "swagger-ui.css": "vendor/swagger-ui/swagger-ui.css"}
PAGES = {"/": "index.html", "/docs": "docs.html"}
# The pages load only the server's own files: no CDN, no inline script, no framing.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
BUILT_IN_EXAMPLES = [
    "A wonderful film: the acting is superb and the story kept me hooked to the end.",
    "Dull, far too long and badly acted. A waste of two hours.",
    "The cast is great, but the plot is thin and the ending feels rushed.",
]


def _web_file(name: str) -> bytes:
    path = WEB_DIR / STATIC_PATHS.get(name, name)
    try:
        return path.read_bytes()
    except OSError:
        raise FileNotFoundError(f"the web page's file {name} is missing from the installed package "
                                f"(lexiclass/inference/web); reinstall lexiclass") from None


def check_examples(examples, limits: Limits) -> list[str]:
    """The texts the page at ``/`` offers to try (None: `BUILT_IN_EXAMPLES`), or `LexiclassError`."""
    if examples is None:
        return list(BUILT_IN_EXAMPLES)
    if isinstance(examples, str) or not all(isinstance(e, str) and e.strip() for e in examples):
        raise LexiclassError("examples must be a list of non-empty strings")
    examples = list(examples)
    if len(examples) > 20 or any(len(e) > limits.max_chars for e in examples):
        raise LexiclassError(f"examples: at most 20 texts of at most max_chars = {limits.max_chars} characters")
    return examples


def web_files() -> dict[str, bytes]:
    """Every file the pages need, by name, read once (a missing one fails here, before a model is loaded)."""
    return {name: _web_file(name) for name in [*STATIC_FILES, *PAGES.values()]}


def add_pages(app: FastAPI, web: dict[str, bytes]) -> None:
    """GET ``/``, ``/docs`` and ``/static/{name}`` on ``app``, from ``web`` (`web_files`)."""
    headers = {"Content-Security-Policy": PAGE_CSP, "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

    def page(name: str):
        async def endpoint():
            return HTMLResponse(web[name], headers=headers)
        return endpoint

    for path, name in PAGES.items():
        app.add_api_route(path, page(name), methods=["GET"], include_in_schema=False,
                          name=name.removesuffix(".html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC_FILES:
            raise HTTPException(404)
        return Response(web[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


class SecurityHeaders:
    """ASGI middleware: nosniff on every response (plain ASGI: the body stream and disconnects pass untouched)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                message = {**message, "headers": headers + [(b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
