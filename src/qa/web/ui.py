"""The Chinese chat page (Gradio Blocks) and the ``/ask`` endpoint for ``gradio_client``.

The raw conversation (question and answer text, log row id, feedback) lives in a
per-session ``gr.State``; the Chatbot only shows HTML rendered from it. So a
follow-up gets clean text as history, never the sources HTML, and a like on
message *i* maps straight to the log row of turn ``i // 2``.

No ``from __future__ import annotations`` here: ``gr.api`` reads the ``/ask``
signature at run time to describe it to clients.
"""

import logging
from typing import Any

import gradio as gr
from gradio.components.chatbot import Message, MessageDict

from ..errors import QAError
from .faults import FAULTS
from .render import answer_html, question_html
from .service import CHAT, GRADIO_API, ChatService

log = logging.getLogger(__name__)

TITLE = "重庆政法改革最佳实践问答"
DESCRIPTION = "根据重庆市政法领域十大改革最佳实践的案例材料回答问题，每个回答都标注出处，点开“来源”可核对原文。"
EXAMPLES = [
    "这次评出的十大最佳实践范例都有哪些？",
    "“警快办”注册人数有多少？",
    "5G车载便民法庭能把哪些服务送到群众家门口？",
    "石柱和巴南谁的调解成功率更高？",
]
PLACEHOLDER = "请输入问题，按回车发送"
# Chats answered at once. Model calls are batched (qa.batching), so 16 waiting chats cost about one
# model call, not 16; a limit of 4 would only make the 5th wait for a batch it could have joined.
CONCURRENCY = 16
MAX_QUEUE = 256
LIKE, DISLIKE = "Like", "Dislike"  # the exact strings Gradio draws as thumbs

# Plain font names only: a gr.themes.GoogleFont would make every page load fetch from a font host.
FONTS = ["PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "system-ui", "sans-serif"]
MONO_FONTS = ["ui-monospace", "Consolas", "monospace"]

CSS = """
.gradio-container { max-width: 880px !important; margin: 0 auto !important; }
#qa-header h1 { font-size: 1.5rem; margin: 0.25rem 0; }
#qa-header p { margin: 0 0 0.25rem; color: var(--body-text-color-subdued); }
.qa-question, .qa-text { white-space: normal; overflow-wrap: anywhere; }
.qa-ref { color: var(--color-accent); font-weight: 600; }
.qa-ungrounded .qa-text { color: var(--body-text-color-subdued); }
details.qa-sources { margin-top: 0.5rem; border-top: 1px solid var(--border-color-primary); padding-top: 0.25rem; }
details.qa-sources summary { cursor: pointer; font-weight: 600; }
.qa-source-list { padding-left: 0; list-style: none; margin: 0.25rem 0 0; }
.qa-source { margin: 0.5rem 0; }
.qa-title { font-weight: 600; }
.qa-unit, .qa-field { color: var(--body-text-color-subdued); font-size: 0.9em; }
#qa-chat .qa-source blockquote { margin: 0.25rem 0 0 !important; padding: 0.25rem 0.5rem; border-left: 3px solid var(--border-color-accent);
  overflow-wrap: anywhere; }
#qa-chat .qa-source-head, #qa-chat .qa-source blockquote { line-height: 1.6; }
.qa-source mark { background: #fde68a; color: inherit; padding: 0 1px; }
#qa-input { flex-wrap: nowrap; gap: 0.5rem; }
#qa-send { min-width: 4.5rem; flex-grow: 0; }
@media (max-width: 480px) {
  .gradio-container { padding: 0 6px !important; }
  #qa-header h1 { font-size: 1.2rem; }
}
"""

Turns = list[dict[str, Any]]


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="red", font=FONTS, font_mono=MONO_FONTS)


def build_ui(service: ChatService) -> gr.Blocks:
    """The chat page; mount it with :func:`qa.web.server.create_app`."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.HTML(f"<h1>{TITLE}</h1><p>{DESCRIPTION}</p>", elem_id="qa-header")
        turns = gr.State([])
        chatbot = gr.Chatbot(
            value=[],
            show_label=False,
            elem_id="qa-chat",
            height="62vh",
            min_height=320,
            examples=[{"text": q} for q in EXAMPLES],
            placeholder="可以点下面的示例问题，或在输入框中提问。",
            buttons=[],  # "copy" would copy the message HTML, not the answer text
            feedback_options=[LIKE, DISLIKE],
            latex_delimiters=[],  # no math: "$" in a passage is just a dollar sign
            sanitize_html=True,
            layout="bubble",
        )
        with gr.Row(elem_id="qa-input", equal_height=True):
            box = gr.Textbox(show_label=False, placeholder=PLACEHOLDER, container=False, scale=5, elem_id="qa-box")
            send = gr.Button("发送", variant="primary", scale=0, elem_id="qa-send")
        clear = gr.Button("清空对话", size="sm", variant="secondary", elem_id="qa-clear")
        _wire(service, turns, chatbot, box, send, clear)
    # Bounded: under overload a user is told the queue is full instead of the server queueing without limit.
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=MAX_QUEUE)
    return demo


def _wire(
    service: ChatService, turns: gr.State, chatbot: gr.Chatbot, box: gr.Textbox, send: gr.Button, clear: gr.Button
) -> None:
    """Connect the events. UI-only handlers are private: clients should use /ask."""

    def respond(message: str, past: Turns, request: gr.Request) -> tuple[str, gr.Chatbot, Turns]:
        message = valid_text(message)  # it is sent back (the box, the chat): a lone surrogate would break the stream
        try:
            answered = service.ask(
                message, history_of(past), session_id=request.session_hash, ip=_ip(request), channel=CHAT
            )
        except Exception as exc:  # the edge: whatever went wrong, the user reads Chinese, never a trace
            gr.Warning(user_message(exc), title="提示")
            return message, chat_view(past), past  # keep the text so the user can fix it
        turn = {"question": message, "answer": answered.reply.answer, "log_id": answered.log_id, "feedback": None}
        turn["html"] = answer_html(answered.reply)
        now = [*past, turn]
        return "", chat_view(now), now

    def respond_example(past: Turns, event: gr.SelectData, request: gr.Request) -> tuple[str, gr.Chatbot, Turns]:
        example = event.value if isinstance(event.value, dict) else {}  # the page sends {"text": …}
        return respond(str(example.get("text", "")), past, request)

    def on_like(past: Turns, event: gr.LikeData, request: gr.Request) -> Turns:
        try:
            index = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
            turn_no = int(index) // 2  # messages alternate: question 2k, answer 2k + 1
            if 0 <= turn_no < len(past):
                liked = event.liked if isinstance(event.liked, bool) else None  # "" means the vote was withdrawn
                service.feedback(past[turn_no]["log_id"], liked, session_id=request.session_hash, ip=_ip(request))
                past[turn_no]["feedback"] = None if liked is None else (LIKE if liked else DISLIKE)
        except (TypeError, ValueError, IndexError, KeyError):
            pass  # not a like the page sends (a crafted event): nothing to record
        except Exception as exc:
            gr.Warning(user_message(exc), title="提示")
        return past

    def reset() -> tuple[str, list[Any], Turns]:
        return "", [], []

    outputs = [box, chatbot, turns]
    box.submit(respond, [box, turns], outputs, api_visibility="private")
    send.click(respond, [box, turns], outputs, api_visibility="private")
    chatbot.example_select(respond_example, [turns], outputs, api_visibility="private")
    chatbot.like(on_like, [turns], [turns], api_visibility="private")
    clear.click(reset, None, outputs, api_visibility="private")
    chatbot.clear(reset, None, outputs, api_visibility="private")
    _api(service)


def _api(service: ChatService) -> None:
    """``/ask`` for gradio_client: the same JSON as ``POST /api/ask``."""

    def ask(question: str, history: list[dict[str, str]] | None = None, request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        """Answer a question; history is [{"role": "user"|"assistant", "content": str}, ...]."""
        session = request.session_hash if request is not None else None
        try:
            answered = service.ask(question, history or [], session_id=session, ip=_ip(request), channel=GRADIO_API)
        except Exception as exc:
            raise gr.Error(user_message(exc), print_exception=False) from exc
        return {**answered.reply.to_dict(), "id": answered.log_id}

    gr.api(ask, api_name="ask")


def user_message(exc: Exception) -> str:
    """The Chinese message to show for ``exc``; unexpected errors go to the fault log (trace once), not shown."""
    if isinstance(exc, QAError):
        return exc.user_message
    FAULTS.record(exc, "chat")
    return QAError.user_message


def valid_text(value: Any) -> str:
    """``value`` as text that is valid UTF-8 (lone surrogates, legal in JSON, become "?")."""
    return str(value if value is not None else "").encode("utf-8", "replace").decode("utf-8")


def history_of(past: Turns) -> list[dict[str, str]]:
    """The conversation as plain role/content turns, for follow-up questions."""
    history: list[dict[str, str]] = []
    for turn in past:
        history.append({"role": "user", "content": turn["question"]})
        history.append({"role": "assistant", "content": turn["answer"]})
    return history


def chat_view(past: Turns) -> gr.Chatbot:
    """The Chatbot value (and its thumbs) rebuilt from the raw turns."""
    messages: list[MessageDict | Message] = []
    for turn in past:
        messages.append({"role": "user", "content": question_html(turn["question"])})
        messages.append({"role": "assistant", "content": turn["html"]})
    return gr.Chatbot(value=messages, feedback_value=[turn.get("feedback") for turn in past])


def _ip(request: gr.Request | None) -> str | None:
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)
