/* The widget's chat: POST api/ask on this origin, answers with [n] markers and a 来源 list,
 * and a like/dislike on each answer (POST api/feedback, stored on the answer's question-log row).
 *
 * Every piece of text (question, answer, case title, passage) is inserted with
 * textContent / createTextNode, never as HTML, so markup in a question or a case
 * file shows as text. The conversation is kept in sessionStorage, so it survives
 * the panel being closed and reopened and the portal page being reloaded, until
 * the browser tab is closed.
 */
(function () {
  "use strict";

  var STORE_KEY = "qa-widget:v1";
  var MAX_TURNS = 30; // kept in storage; a long conversation should not fill the quota
  var HISTORY_TURNS = 6; // sent with a question; the server only reads the last few anyway
  var COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  var NETWORK_ERROR = "网络连接失败，请稍后再试。";
  var SERVER_ERROR = "服务暂时不可用，请稍后再试。";
  var VOTES = [{ liked: true, label: "赞", mark: "👍" }, { liked: false, label: "踩", mark: "👎" }];

  var framed = window.parent !== window;
  var state = load();
  var busy = false;
  var $ = function (id) { return document.getElementById(id); };
  var log, intro, form, input, send;

  // ---- storage: sessionStorage may be blocked (third-party storage off); memory then still works

  function load() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved.session === "string" && Array.isArray(saved.turns)) {
        return { session: saved.session, turns: saved.turns.filter(validTurn) };
      }
    } catch (e) { /* unreadable or blocked: start fresh */ }
    return { session: newSession(), turns: [] };
  }

  function validTurn(turn) {
    var reply = turn && turn.reply;
    return typeof turn.question === "string" && reply && typeof reply.answer === "string" && Array.isArray(reply.citations);
  }

  function save() {
    state.turns = state.turns.slice(-MAX_TURNS);
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* memory only */ }
  }

  function newSession() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return "w-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // ---- DOM helpers: text only

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  // ---- rendering

  function questionNode(text) {
    return el("div", "qa-question", text);
  }

  function answerNode(turn) {
    var reply = turn.reply;
    var box = el("div", reply.grounded ? "qa-answer" : "qa-answer qa-ungrounded");
    var text = el("div", "qa-text");
    appendMarked(text, String(reply.answer), citedNumbers(reply.citations));
    box.appendChild(text);
    if (reply.citations.length) box.appendChild(sourcesNode(reply.citations));
    if (typeof reply.id === "string") box.appendChild(votesNode(turn));
    return box;
  }

  // 赞 / 踩 under an answer: a toggle each; pressing the pressed one withdraws the vote.
  function votesNode(turn) {
    var group = el("div", "qa-votes");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "评价这个回答");
    var buttons = VOTES.map(function (vote) {
      var button = el("button", "qa-vote", vote.mark + " " + vote.label);
      button.type = "button";
      button.title = vote.label;
      button.setAttribute("aria-label", vote.label);
      button.setAttribute("data-liked", String(vote.liked));
      button.addEventListener("click", function () {
        var liked = turn.feedback === vote.liked ? null : vote.liked;
        buttons.forEach(function (b) { b.disabled = true; });
        postJSON("api/feedback", { id: turn.reply.id, liked: liked, session_id: state.session })
          .then(function () {
            turn.feedback = liked;
            save();
            showVote(buttons, liked);
          }, showError)
          .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
      });
      group.appendChild(button);
      return button;
    });
    showVote(buttons, typeof turn.feedback === "boolean" ? turn.feedback : null);
    return group;
  }

  function showVote(buttons, liked) {
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-liked") === String(liked)));
    });
  }

  function citedNumbers(citations) {
    var numbers = {};
    citations.forEach(function (c) { numbers[String(c.n)] = true; });
    return numbers;
  }

  // The answer as text nodes, with each [n] that names a citation in a <sup>.
  function appendMarked(parent, answer, numbers) {
    var marker = /\[(\d+)\]/g, last = 0, match;
    while ((match = marker.exec(answer)) !== null) {
      if (!numbers[match[1]]) continue;
      parent.appendChild(document.createTextNode(answer.slice(last, match.index)));
      parent.appendChild(el("sup", "qa-ref", match[0]));
      last = marker.lastIndex;
    }
    parent.appendChild(document.createTextNode(answer.slice(last)));
  }

  function sourcesNode(citations) {
    var details = el("details", "qa-sources");
    details.appendChild(el("summary", "", "来源（" + citations.length + "）"));
    var list = el("ol", "qa-source-list");
    citations.forEach(function (c) { list.appendChild(sourceNode(c)); });
    details.appendChild(list);
    return details;
  }

  function sourceNode(c) {
    var item = el("li", "qa-source");
    var head = el("div", "qa-source-head");
    head.appendChild(el("span", "qa-n", "[" + c.n + "]"));
    head.appendChild(el("span", "qa-title", String(c.title)));
    head.appendChild(el("span", "qa-unit", String(c.unit)));
    Object.keys(c.fields || {}).forEach(function (k) {
      head.appendChild(el("span", "qa-field", k + "：" + String(c.fields[k])));
    });
    item.appendChild(head);
    item.appendChild(passageNode(String(c.text), String(c.quote || "")));
    return item;
  }

  // The passage, with the sentence the answer quotes in <mark>.
  function passageNode(text, quote) {
    var quoteBox = el("blockquote");
    var at = quote ? text.indexOf(quote) : -1;
    if (at < 0) {
      quoteBox.textContent = text;
      return quoteBox;
    }
    quoteBox.appendChild(document.createTextNode(text.slice(0, at)));
    quoteBox.appendChild(el("mark", "", quote));
    quoteBox.appendChild(document.createTextNode(text.slice(at + quote.length)));
    return quoteBox;
  }

  // The saved conversation, drawn once at start (or emptied by 清空对话). Nothing is announced:
  // the log itself is not a live region; only each new answer's slot is (see ask).
  function renderAll() {
    Array.prototype.slice.call(log.querySelectorAll(".qa-turn, .qa-error")).forEach(function (n) { n.remove(); });
    state.turns.forEach(function (turn) {
      var node = turnNode(turn.question);
      node.querySelector(".qa-reply").appendChild(answerNode(turn));
      log.appendChild(node);
    });
    intro.hidden = state.turns.length > 0;
    scrollToEnd();
  }

  // A question and the slot its answer goes into.
  function turnNode(question) {
    var turn = el("div", "qa-turn");
    turn.appendChild(questionNode(question));
    turn.appendChild(el("div", "qa-reply"));
    return turn;
  }

  function showError(message) {
    var box = el("div", "qa-error", message);
    box.setAttribute("role", "alert");
    log.appendChild(box);
    scrollToEnd();
  }

  // ---- asking

  function history() {
    var turns = [];
    state.turns.slice(-HISTORY_TURNS).forEach(function (t) {
      turns.push({ role: "user", content: t.question }, { role: "assistant", content: t.reply.answer });
    });
    return turns;
  }

  function ask(question) {
    if (busy) return;
    setBusy(true);
    Array.prototype.slice.call(log.querySelectorAll(".qa-error")).forEach(function (n) { n.remove(); });
    // Only the new turn's answer slot is a live region, so a screen reader reads the new answer
    // and nothing else; the earlier turns stay in the DOM untouched.
    var pending = turnNode(question);
    var slot = pending.querySelector(".qa-reply");
    slot.setAttribute("aria-live", "polite");
    slot.appendChild(el("div", "qa-pending", "正在查找…"));
    intro.hidden = true;
    log.appendChild(pending);
    scrollToEnd();
    post({ question: question, history: history(), session_id: state.session })
      .then(function (reply) {
        var turn = { question: question, reply: reply, feedback: null };
        state.turns.push(turn);
        save();
        input.value = "";
        while (slot.firstChild) slot.removeChild(slot.firstChild);
        slot.appendChild(answerNode(turn));
        scrollToEnd();
      }, function (message) {
        pending.remove();
        intro.hidden = state.turns.length > 0;
        showError(message); // the question stays in the box, so it can be corrected
      })
      .then(function () { setBusy(false); });
  }

  // Resolves with the reply, or rejects with a Chinese message for the user.
  function post(body) {
    return postJSON("api/ask", body).then(function (data) {
      if (typeof data.answer === "string" && Array.isArray(data.citations)) return data;
      throw SERVER_ERROR;
    });
  }

  // Resolves with the JSON of a 2xx answer; rejects with the server's Chinese {"error"} or ours.
  function postJSON(url, body) {
    return window.fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (data) {
        if (response.ok && data) return data;
        throw (data && typeof data.error === "string") ? data.error : SERVER_ERROR;
      }, function () { throw SERVER_ERROR; });
    }, function () { throw NETWORK_ERROR; });
  }

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    log.setAttribute("aria-busy", value ? "true" : "false");
  }

  function submit() {
    var question = input.value.trim();
    if (!question) {
      showError("问题不能为空，请输入要查询的内容。");
      input.focus();
      return;
    }
    ask(question);
  }

  // ---- options and the embedding page

  function applyOptions() {
    var params = new URLSearchParams(window.location.search);
    var title = params.get("title");
    if (title) {
      document.title = title;
      $("qa-heading").textContent = title;
      $("qa-widget").setAttribute("aria-label", title);
    }
    var color = params.get("color");
    if (color && COLOR.test(color)) document.documentElement.style.setProperty("--qa-accent", color);
    // Framed, the portal's panel shows the title; opened on its own, the page shows it.
    $("qa-heading").hidden = framed;
    if (framed) document.documentElement.classList.add("qa-framed");
  }

  // The panel's frame is cross-origin to the portal, so Esc pressed in here has to be passed up.
  function listenToParent() {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && framed) window.parent.postMessage({ type: "qa-widget:close" }, "*");
    });
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || !event.data || event.data.type !== "qa-widget:focus") return;
      input.focus();
    });
  }

  function wire() {
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
    input.addEventListener("keydown", function (event) {
      // isComposing: Enter that confirms a pinyin candidate must not send the question.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".qa-example"), function (button) {
      button.addEventListener("click", function () { ask(button.textContent); });
    });
    $("qa-clear").addEventListener("click", function () {
      state.turns = [];
      save();
      renderAll();
      input.focus();
    });
  }

  function start() {
    log = $("qa-log"); intro = $("qa-intro"); form = $("qa-form"); input = $("qa-input"); send = $("qa-send");
    applyOptions();
    wire();
    listenToParent();
    renderAll();
    document.documentElement.setAttribute("data-ready", "true");
    if (framed) window.parent.postMessage({ type: "qa-widget:ready" }, "*");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
