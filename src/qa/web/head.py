"""``HEAD`` answered wherever ``GET`` is, with the same status and headers and no body.

FastAPI routes declared with ``@router.get`` do not accept HEAD, so without this a
``curl -I …/widget`` fell through to the Gradio mount and got a 404 with the generic
policy: an operator checking ``frame-ancestors`` was told the allowlist was not applied.
Here a HEAD request is handed to the app as a GET; the response's status and headers
(``Content-Length`` included) go out, its body is dropped. Once the headers are out the
app is told the client has gone, so a streaming GET (an event stream) ends at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Runs HEAD requests as GET and sends only the response's start (status and headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def headers_only(message: Message) -> None:
            nonlocal done
            if done:
                return
            if message["type"] == "http.response.start":
                await send(message)
            elif message["type"] == "http.response.body":
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def receive_until_done() -> Message:
            if done:
                return {"type": "http.disconnect"}
            return await receive()

        await self.app({**scope, "method": "GET"}, receive_until_done, headers_only)


__all__ = ["HeadAsGet"]
