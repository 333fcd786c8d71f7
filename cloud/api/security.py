"""Response headers that tell a browser how little to trust: on every response the app sends.

The dashboard is same-origin static files (no inline script or style, no CDN: see cloud/dashboard.py),
so the Content-Security-Policy allows scripts, styles, images and fetches from this origin only.
Chart.js styles its canvases through the CSSOM (``element.style.x = ...``), which a CSP without
``'unsafe-inline'`` still allows. Framing is refused both ways (``frame-ancestors`` for current
browsers, ``X-Frame-Options`` for old ones); no Referer leaves the page (URLs may carry region paths);
API answers are never cached (they are per-token).
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
API_HEADERS = {"Cache-Control": "no-store"}


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched); a header the route set itself is kept."""

    def __init__(self, app: ASGIApp, *, api_prefix: str = "/api/") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**HEADERS, **(API_HEADERS if scope["path"].startswith(self.api_prefix) else {})}
        wanted = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
