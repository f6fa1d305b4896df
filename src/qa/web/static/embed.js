/* The portal snippet: a chat bubble that opens a panel framing <this server>/widget.
 *
 *   <script src="https://QA-HOST/embed.js" data-title="政法改革问答" data-position="right"
 *           data-color="#c0392b" data-offset="24" defer></script>
 *
 * data-offset: the bubble's distance from the bottom of the window in px (0-400; default 24,
 * 16 on a phone), to keep it off the portal's footer or a cookie banner.
 *
 * The bubble and the panel live in a Shadow DOM, so the portal's CSS cannot reach
 * inside and ours cannot leak out; the chat itself is an iframe, a separate document.
 * Everything comes from the server that served this file: no third-party loads.
 */
(function () {
  "use strict";

  // currentScript is also set for a tag inserted by a tag manager; the query is a last resort.
  var script = document.currentScript || document.querySelector("script[src$='/embed.js']");
  if (!script || window.__qaWidget) return; // pasted twice: one bubble is enough
  window.__qaWidget = true;

  var COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  var OFFSET = /^\s*(\d{1,3})(?:px)?\s*$/;
  var MAX_OFFSET = 400;
  var DEFAULT_TITLE = "政法改革问答";
  var DEFAULT_COLOR = "#c0392b";
  var origin = new URL(script.src, window.location.href).origin;

  function options(data) {
    var title = (data.title || "").trim().slice(0, 40) || DEFAULT_TITLE;
    return {
      title: title,
      position: data.position === "left" ? "left" : "right",
      color: COLOR.test(data.color || "") ? data.color : DEFAULT_COLOR,
      offset: offset(data.offset)
    };
  }

  // "40" or "40px" -> "40px"; anything else (or over MAX_OFFSET) -> null: the stylesheet's default.
  function offset(value) {
    var match = OFFSET.exec(value || "");
    return match && Number(match[1]) <= MAX_OFFSET ? Number(match[1]) + "px" : null;
  }

  var CSS = [
    ":host { all: initial !important; }",
    ".qa-root { all: initial; font: 16px/1.5 'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',system-ui,sans-serif; color: #1f2328; }",
    ".qa-root *, .qa-root *::before, .qa-root *::after { box-sizing: border-box; }",
    ".qa-bubble { position: fixed; bottom: var(--qa-offset, 24px); z-index: 2147483000; display: flex; align-items: center; gap: 8px;",
    "  height: 56px; margin: 0; padding: 0 20px 0 16px; border: 0; border-radius: 28px; cursor: pointer;",
    "  font-family: inherit; font-size: 16px; font-weight: 600; line-height: 1; letter-spacing: 0; text-transform: none; color: #fff;",
    "  background: var(--qa-accent); box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".qa-bubble:hover { filter: brightness(1.08); }",
    ".qa-bubble:focus-visible, .qa-close:focus-visible { outline: 3px solid #1a73e8; outline-offset: 3px; }",
    ".qa-bubble svg { width: 24px; height: 24px; flex: none; fill: currentColor; }",
    ".qa-panel { position: fixed; bottom: calc(var(--qa-offset, 24px) + 68px); z-index: 2147483001; display: flex;",
    "  flex-direction: column; width: 380px; height: 600px; max-height: calc(100vh - var(--qa-offset, 24px) - 92px);",
    "  max-width: calc(100vw - 32px);",
    "  background: #fff; border-radius: 12px; overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.3); }",
    ".qa-panel[hidden] { display: none; }",
    ".qa-root.left .qa-bubble, .qa-root.left .qa-panel { left: 24px; }",
    ".qa-root.right .qa-bubble, .qa-root.right .qa-panel { right: 24px; }",
    ".qa-head { display: flex; align-items: center; justify-content: space-between; flex: none;",
    "  height: 48px; padding: 0 8px 0 16px; color: #fff; background: var(--qa-accent); }",
    ".qa-head h2 { margin: 0; font-family: inherit; font-size: 16px; font-weight: 600; line-height: 1.2; color: inherit;",
    "  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".qa-close { width: 40px; height: 40px; margin: 0; padding: 0; border: 0; border-radius: 8px; cursor: pointer;",
    "  font-family: inherit; font-size: 26px; font-weight: 400; line-height: 1; color: #fff; background: transparent; }",
    ".qa-close:hover { background: rgba(255,255,255,.15); }",
    ".qa-frame { flex: 1 1 auto; width: 100%; height: 100%; border: 0; margin: 0; display: block; background: #fff; }",
    /* A phone: the panel takes the whole screen; its header's × closes it. The closed bubble is a
       48 px round button (no label: its accessible name stays), to cover as little as possible. */
    "@media (max-width: 600px) {",
    "  .qa-root .qa-panel { left: 0; right: 0; top: 0; bottom: 0; width: 100%; height: 100%;",
    "    max-width: none; max-height: none; border-radius: 0; }",
    "  .qa-root.open .qa-bubble { display: none; }",
    "  .qa-root .qa-bubble { bottom: var(--qa-offset, 16px); width: 48px; height: 48px; padding: 0;",
    "    justify-content: center; border-radius: 24px; }",
    "  .qa-root .qa-label { display: none; }",
    "  .qa-root.left .qa-bubble { left: 16px; } .qa-root.right .qa-bubble { right: 16px; }",
    "}",
    "@media print { .qa-root { display: none; } }"
  ].join("\n");

  // Constructed style sheets are not blocked by a portal CSP that forbids inline <style>.
  function addStyles(shadow, css) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement("style");
      style.textContent = css;
      shadow.appendChild(style);
    }
  }

  function el(tag, className, attrs) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z");
    svg.appendChild(path);
    return svg;
  }

  function widgetUrl(opts) {
    var url = new URL("widget", script.src);
    url.searchParams.set("title", opts.title);
    url.searchParams.set("color", opts.color);
    return url.href;
  }

  function build(opts) {
    var root = el("div", "qa-root " + opts.position);
    root.style.setProperty("--qa-accent", opts.color);
    if (opts.offset) root.style.setProperty("--qa-offset", opts.offset);
    var panel = el("div", "qa-panel", { id: "qa-panel", role: "dialog", "aria-label": opts.title });
    panel.hidden = true;
    var head = el("div", "qa-head");
    var title = el("h2", "");
    title.textContent = opts.title;
    var close = el("button", "qa-close", { type: "button", "aria-label": "关闭问答窗口", title: "关闭（Esc）" });
    close.textContent = "×";
    head.appendChild(title);
    head.appendChild(close);
    panel.appendChild(head);
    var bubble = el("button", "qa-bubble", {
      type: "button", "aria-label": "打开" + opts.title, "aria-expanded": "false", "aria-controls": "qa-panel"
    });
    bubble.appendChild(chatIcon());
    var label = el("span", "qa-label");
    label.textContent = "问答";
    bubble.appendChild(label);
    root.appendChild(panel);
    root.appendChild(bubble);
    return { root: root, panel: panel, bubble: bubble, close: close, frame: null };
  }

  function mount() {
    var opts = options(script.dataset);
    var host = document.createElement("qa-widget-host");
    // Inline !important beats any page rule (even `* { display: none !important }`) on the host element.
    host.style.setProperty("all", "initial", "important");
    host.style.setProperty("display", "block", "important");
    var shadow = host.attachShadow({ mode: "open" });
    addStyles(shadow, CSS);
    var ui = build(opts);
    shadow.appendChild(ui.root);
    document.body.appendChild(host);
    wire(ui, opts);
  }

  function wire(ui, opts) {
    function isOpen() { return !ui.panel.hidden; }

    // Until the widget says it is ready, the frame may still hold about:blank (or an error page
    // when this site may not frame it), and a message to it would only log a warning.
    var ready = false;

    function focusChat() {
      if (!ui.frame) return;
      ui.frame.focus();
      if (ready) ui.frame.contentWindow.postMessage({ type: "qa-widget:focus" }, origin);
    }

    // The frame is made on first open and then only hidden, so the conversation stays loaded.
    function open() {
      if (!ui.frame) {
        ui.frame = el("iframe", "qa-frame", { title: opts.title, src: widgetUrl(opts) });
        ui.panel.appendChild(ui.frame);
      }
      ui.panel.hidden = false;
      ui.root.classList.add("open");
      ui.bubble.setAttribute("aria-expanded", "true");
      focusChat();
    }

    function close() {
      if (!isOpen()) return;
      ui.panel.hidden = true;
      ui.root.classList.remove("open");
      ui.bubble.setAttribute("aria-expanded", "false");
      ui.bubble.focus();
    }

    ui.bubble.addEventListener("click", function () { if (isOpen()) close(); else open(); });
    ui.close.addEventListener("click", close);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen()) close();
    });
    // Esc pressed inside the frame arrives as a message; only our own frame is listened to.
    window.addEventListener("message", function (event) {
      if (!ui.frame || event.source !== ui.frame.contentWindow || event.origin !== origin) return;
      var type = event.data && event.data.type;
      if (type === "qa-widget:close") close();
      if (type === "qa-widget:ready") {
        ready = true;
        if (isOpen()) focusChat();
      }
    });
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
