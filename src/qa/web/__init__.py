"""The web front ends: FastAPI JSON API and Gradio chat, served together by ``server``.

Only modules in this package import gradio, fastapi, starlette or uvicorn, so the
library and the CLI stay importable (and fast to start) without them.
"""
