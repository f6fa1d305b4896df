// Knowledge-base admin page. Plain DOM, no libraries; every value from a file or the
// server is shown with textContent, never parsed as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let token = "";
  let previewed = null; // {name, text} of the last valid preview: only that may be saved
  let polling = null;

  function show(text, kind) {
    const el = $("message");
    el.textContent = text;
    el.className = kind || "";
  }

  async function call(method, path, body, raw) {
    const options = { method, headers: { Authorization: "Bearer " + token } };
    if (raw !== undefined) {
      options.headers["Content-Type"] = "application/octet-stream"; // a Word file or PDF: sent as it is
      options.body = raw;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      throw new Error("无法连接服务器：" + err.message);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(data.error || "请求失败（HTTP " + response.status + "）");
    }
    return data;
  }

  function fill(list, rows) {
    list.replaceChildren();
    for (const [label, value] of rows) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = label;
      dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      list.append(dt, dd);
    }
  }

  function showStatus(s) {
    const rows = [
      ["正在使用的版本", s.index_version],
      ["构建时间（UTC）", s.index_built_at],
      ["案例 / 片段", s.cases + " / " + s.chunks],
      ["已发布的版本", s.published_version],
    ];
    if (s.reload_failure) {
      rows.push(["加载失败", s.reload_failure.message]);
    }
    fill($("status"), rows);
    if (s.rebuild) showRebuild(s.rebuild);
  }

  const STATES = { idle: "未运行", running: "运行中", done: "已完成", failed: "失败" };

  function showRebuild(r) {
    fill($("rebuild-status"), [
      ["状态", STATES[r.state] || r.state],
      ["当前步骤", r.step],
      ["结果", r.message],
      ["开始 / 结束", (r.started_at || "—") + " / " + (r.finished_at || "—")],
    ]);
    $("rebuild").disabled = r.state === "running";
  }

  async function refresh() {
    showStatus(await call("GET", "/api/admin/status"));
  }

  async function connect(event) {
    event.preventDefault();
    token = $("token").value.trim();
    try {
      const s = await call("GET", "/api/admin/status");
      showStatus(s); // also enables the rebuild button unless a rebuild is running
      for (const id of ["reload", "preview", "save-checks", "file", "load-report"]) $(id).disabled = false;
      show("已连接。", "ok");
      await Promise.all([listCases(), loadChecks(), listVersions(), loadReport()]);
      if (s.rebuild.state === "running") poll();
    } catch (err) {
      show(err.message, "error");
    }
  }

  function loadFile() {
    const file = $("file").files[0];
    if (!file) return;
    $("import-out").replaceChildren();
    if (!/\.md$/i.test(file.name)) return importDocument(file);
    $("name").value = file.name;
    const reader = new FileReader();
    reader.onload = () => {
      const [text, notice] = decode(new Uint8Array(reader.result));
      $("text").value = text;
      invalidate();
      if (notice) show(notice, "ok");
    };
    reader.onerror = () => show("无法读取文件。", "error");
    reader.readAsArrayBuffer(file);
  }

  // UTF-8 as it is; a GBK/GB18030 file (Word's and Notepad's old default) converted, with a notice.
  function decode(bytes) {
    try {
      return [new TextDecoder("utf-8", { fatal: true }).decode(bytes), ""];
    } catch (err) {
      const text = new TextDecoder("gb18030").decode(bytes);
      return [text, "文件是 GBK/GB18030 编码，已自动转换为 UTF-8，保存时按 UTF-8 写入；请核对内容是否正确。"];
    }
  }

  const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024; // the server's limit for this one route

  // A Word/PDF/web page/text file: the server converts it as `qa import` does and proposes case files.
  async function importDocument(file) {
    if (file.size > MAX_DOCUMENT_BYTES) {
      show("文件过大（上限 10 MB）：请先去掉其中的图片，或另存为 .txt 后再导入。", "error");
      return;
    }
    show("正在转换 " + file.name + " ……", "");
    const query = "?name=" + encodeURIComponent(file.name) + "&split=" + ($("split").checked ? "true" : "false");
    try {
      const r = await call("POST", "/api/admin/import" + query, undefined, file);
      if (!r.valid) {
        const div = element("div", "problems", "无法导入：\n" + r.problems.map((x) => "· " + x).join("\n"));
        $("import-out").append(div);
        show("无法导入 " + file.name + "，什么都没有写入。", "error");
        return;
      }
      for (const p of r.proposals) $("import-out").append(renderProposal(p));
      show("已转换为 " + r.proposals.length + " 个建议的案例文件（尚未保存）。请核对推测的字段，再点“放进编辑框”。", "ok");
    } catch (err) {
      show(err.message, "error");
    }
  }

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function renderProposal(p) {
    const box = element("div", "proposal");
    box.append(element("h3", "", p.name + "（来自 " + p.origin + "）"));
    const table = element("table");
    for (const f of p.fields) {
      const tr = element("tr");
      tr.append(element("td", "", f.key), element("td", "", String(f.value)), element("td", "why", "← " + f.why));
      table.append(tr);
    }
    const use = element("button", "", "放进编辑框");
    use.type = "button";
    use.dataset.proposal = p.name;
    use.addEventListener("click", () => {
      $("name").value = p.name;
      $("text").value = p.text;
      invalidate();
      $("preview-out").replaceChildren();
      $("text").focus();
      show("已放进编辑框：" + p.name + "。核对、修改后先预览，再保存。", "ok");
    });
    const file = element("pre", "proposed", p.text); // the case file as it would be saved
    box.append(table, file, element("div", "buttons"));
    box.lastChild.append(use);
    return box;
  }

  function invalidate() {
    previewed = null;
    $("save").disabled = true;
  }

  const INDEXED = { same: "已生效", changed: "已修改，待重建", new: "新增，待重建" };

  async function listCases() {
    const r = await call("GET", "/api/admin/cases");
    const body = $("cases").querySelector("tbody");
    body.replaceChildren();
    for (const c of r.cases) {
      const tr = document.createElement("tr");
      const cells = [c.name, c.batch || "—", c.rank === null ? "—" : c.rank, c.title || c.problem, c.unit || "—",
        c.modified, c.chunks, INDEXED[c.indexed] || "—"];
      for (const value of cells) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.append(td);
      }
      const td = document.createElement("td");
      td.className = "actions";
      const open = document.createElement("button");
      open.type = "button";
      open.textContent = "打开";
      open.dataset.open = c.name;
      open.addEventListener("click", () => openCase(c.name));
      const del = document.createElement("button");
      del.type = "button";
      del.className = "danger";
      del.textContent = "删除";
      del.dataset.delete = c.name;
      del.addEventListener("click", () => removeCase(c.name));
      td.append(open, del);
      tr.append(td);
      body.append(tr);
    }
    showUndo(r.undo);
  }

  function showUndo(names) {
    const list = $("undo-list");
    list.replaceChildren();
    for (const name of names || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "撤销 " + name + " 的最近修改";
      b.dataset.undo = name;
      b.addEventListener("click", () => undo(name));
      list.append(b);
    }
    $("undo-box").hidden = !(names && names.length);
  }

  async function openCase(name) {
    try {
      const r = await call("GET", "/api/admin/cases/" + encodeURIComponent(name));
      $("name").value = r.name;
      $("text").value = r.text;
      invalidate();
      $("preview-out").replaceChildren();
      $("text").focus();
      show("已打开 " + name + "。修改后先预览（可看到与已保存版本的差异），再保存。", "ok");
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function removeCase(name) {
    if (!window.confirm("确定删除 " + name + "？删除后需重建索引才生效，可撤销。")) return;
    try {
      const r = await call("DELETE", "/api/admin/cases/" + encodeURIComponent(name));
      show("已删除 " + r.deleted + "。重建索引后生效；如误删可点“撤销”。", "ok");
      await listCases();
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function undo(name) {
    try {
      const r = await call("POST", "/api/admin/undo", { name });
      show(r.message + "。请重新重建索引。", "ok");
      await Promise.all([listCases(), loadChecks()]);
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function loadChecks() {
    $("checks").value = (await call("GET", "/api/admin/checks")).text;
  }

  async function saveChecks() {
    try {
      const r = await call("PUT", "/api/admin/checks", { text: $("checks").value });
      show("已保存 " + r.saved + "。重建索引后生效。", "ok");
      showUndo(r.undo);
    } catch (err) {
      show(err.message, "error");
    }
  }

  function renderDiff(diff, out) {
    const pre = document.createElement("pre");
    pre.className = "diff";
    if (!diff) {
      pre.textContent = "与已保存的版本相同。";
    } else {
      for (const line of diff.split("\n")) {
        const span = document.createElement("span");
        span.textContent = line + "\n";
        if (line.startsWith("+") && !line.startsWith("+++")) span.className = "add";
        else if (line.startsWith("-") && !line.startsWith("---")) span.className = "del";
        pre.append(span);
      }
    }
    const h = document.createElement("h3");
    h.textContent = "与已保存版本的差异";
    out.append(h, pre);
  }

  function renderPreview(p, out) {
    if (p.notices && p.notices.length) {
      const div = document.createElement("div");
      div.className = "notices";
      div.textContent = "已自动清理粘贴带来的格式（保存的是清理后的内容，编辑框已更新）：\n" +
        p.notices.map((x) => "· " + x).join("\n");
      out.append(div);
    }
    if (!p.valid) {
      const div = document.createElement("div");
      div.className = "problems";
      div.textContent = "文件无效：\n" + p.problems.map((x) => "· " + x).join("\n");
      out.append(div);
      return;
    }
    const c = p.case;
    const meta = document.createElement("dl");
    meta.className = "grid";
    fill(meta, [
      ["操作", p.replaces ? "替换同名文件" : "新增文件"],
      ["id", c.id], ["标题", c.title], ["单位", c.unit], ["地区", c.region], ["层级", c.level],
      ["批次", c.batch], ["序号", c.rank], ["来源", c.source], ["简称", (c.aliases || []).join("、")],
      ["段落 / 片段", c.paragraphs + " / " + p.chunks.length],
    ]);
    const list = document.createElement("ol");
    list.className = "chunks";
    for (const chunk of p.chunks) {
      const li = document.createElement("li");
      const where = document.createElement("div");
      where.className = "where";
      where.textContent = "第 " + chunk.paragraph + " 段，字符 " + chunk.start + "–" + chunk.end;
      const text = document.createElement("div");
      text.textContent = chunk.text;
      li.append(where, text);
      list.append(li);
    }
    out.append(meta);
    renderDiff(p.diff, out);
    out.append(list);
  }

  async function preview() {
    const body = { name: $("name").value.trim(), text: $("text").value };
    const out = $("preview-out");
    out.replaceChildren();
    invalidate();
    try {
      const p = await call("POST", "/api/admin/preview", body);
      if (p.notices && p.notices.length) {
        $("text").value = p.text; // what will be saved: the editor sees the cleaned file
        body.text = p.text;
      }
      renderPreview(p, out);
      if (p.valid) {
        previewed = body;
        $("save").disabled = false;
        show("解析成功，请检查分段后保存。", "ok");
      } else {
        show("文件无效，未保存。", "error");
      }
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function save() {
    if (!previewed) return;
    try {
      const r = await call("POST", "/api/admin/cases", previewed);
      show((r.replaced ? "已替换 " : "已保存 ") + r.saved + "。重建索引后生效。", "ok");
      invalidate();
      await listCases();
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function rebuild() {
    try {
      showRebuild(await call("POST", "/api/admin/rebuild", { full: $("full").checked }));
      show("重建已开始。", "ok");
      poll();
    } catch (err) {
      show(err.message, "error");
    }
  }

  function poll() {
    clearTimeout(polling);
    polling = setTimeout(async () => {
      try {
        const r = await call("GET", "/api/admin/rebuild/status");
        showRebuild(r);
        if (r.state === "running") return poll();
        const undoable = $("undo-list").children.length > 0;
        const hint = r.state === "failed" && undoable ? "\n可点“撤销”恢复刚才保存的文件，再重建。" : "";
        show(r.message + hint + changedCases(r.report), r.state === "done" ? "ok" : "error");
        await refresh();
        await Promise.all([listCases(), listVersions()]);
      } catch (err) {
        show(err.message, "error");
      }
    }, 1000);
  }

  // Which cases a rebuild changed, by id: what the editor checks after publishing.
  function changedCases(report) {
    if (!report) return "";
    const part = (label, ids) => label + "：" + (ids && ids.length ? ids.join("、") : "无");
    return "\n" + [part("新增", report.added), part("修改", report.changed), part("删除", report.removed)].join("；");
  }

  function describeChanges(c) {
    if (!c) return "（最早保留的版本）";
    const parts = [];
    if (c.added.length) parts.push("新增 " + c.added.join("、"));
    if (c.changed.length) parts.push("修改 " + c.changed.join("、"));
    if (c.removed.length) parts.push("删除 " + c.removed.join("、"));
    return parts.join("；") || "案例无变化";
  }

  async function listVersions() {
    const r = await call("GET", "/api/admin/versions");
    const body = $("versions").querySelector("tbody");
    body.replaceChildren();
    for (const v of r.versions) {
      const tr = element("tr");
      const state = element("td");
      if (v.current) state.append(element("span", "badge", "正在使用"));
      if (v.previous) state.append(element("span", "badge prev", "上一版本"));
      tr.append(element("td", "", v.version), element("td", "", v.built_at || "—"), element("td", "", String(v.cases)),
        element("td", "changes", describeChanges(v.changes)), state);
      const td = element("td", "actions");
      if (!v.current) {
        const b = element("button", "", "回滚到此版本");
        b.type = "button";
        b.dataset.rollback = v.version;
        b.addEventListener("click", () => rollbackTo(v.version));
        td.append(b);
      }
      tr.append(td);
      body.append(tr);
    }
  }

  async function rollbackTo(version) {
    if (!window.confirm("确定把正在使用的索引切换到版本 " + version + "？案例文件不会改动，之后可以再切回。")) return;
    try {
      const r = await call("POST", "/api/admin/rollback", { version });
      showStatus(r);
      show("已回滚到索引版本 " + r.index_version + "，服务已在使用它。", "ok");
      await Promise.all([listVersions(), loadReport()]);
    } catch (err) {
      show(err.message, "error");
    }
  }

  async function loadReport() {
    try {
      renderReport(await call("GET", "/api/admin/report"), $("report-out"));
    } catch (err) {
      show(err.message, "error");
    }
  }

  function renderReport(r, out) {
    out.replaceChildren();
    out.append(element("h3", "", "每日提问量与未答出占比"));
    if (!r.days.length) out.append(element("p", "hint", "问答日志（" + r.db_path + "）中还没有问题。"));
    else out.append(chart(r.days), legend(r.days));
    out.append(element("h3", "", "下一步要处理的（未答出的问题，按案例分组）"));
    if (!r.groups.length) out.append(element("p", "hint", "（无）"));
    for (const g of r.groups) out.append(...renderGroup(g));
    out.append(element("h3", "", "置信度低的回答（最低的在前）"));
    renderAnswers(r.doubts, out, true);
    out.append(element("h3", "", "被点踩的回答（最近的在前）"));
    renderAnswers(r.disliked, out, false);
    const rolled = Object.entries(r.rolled_back);
    if (rolled.length) {
      const list = rolled.map(([v, n]) => v + "（" + n + " 个问题）").join("、");
      out.append(element("p", "hint rolled", "已回滚的索引版本回答的问题未计入以上各项：" + list));
    }
  }

  function renderGroup(g) {
    const title = g.kind === "none" ? "不涉及任何案例" : g.kind === "gone" ? "案例 " + g.case_id + "（已不在知识库中）"
      : "《" + g.title + "》（" + g.file + "）";
    const head = element("div", "group-head", title + "：" + g.total + " 次");
    const action = element("div", "action", "建议：" + g.action);
    const list = element("ul", "asked");
    for (const a of g.questions) {
      const li = element("li", "", a.count + " 次  " + a.question + " ");
      li.append(element("span", "version", "〔索引 " + (a.index_version || "未记录") + "〕"));
      list.append(li);
    }
    return [head, action, list];
  }

  function renderAnswers(rows, out, withConfidence) {
    if (!rows.length) {
      out.append(element("p", "hint", "（无）"));
      return;
    }
    const list = element("ul", "asked answers");
    for (const d of rows) {
      const where = d.title ? "《" + d.title + "》" : d.case_id || "—";
      const score = withConfidence ? "置信度 " + Number(d.confidence).toFixed(2) + "  " : "";
      const li = element("li", "", score + where + "  问：" + d.question + "  答：" + d.answer.slice(0, 80) + " ");
      li.append(element("span", "version", "〔索引 " + (d.index_version || "未记录") + "〕"));
      list.append(li);
    }
    out.append(list);
    if (withConfidence) out.append(element("p", "action", "建议：" + rows[0].action));
  }

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Bars: questions per day, the unanswered part in red; the line: the unanswered share (0–100 %).
  function chart(days) {
    const width = 1040, height = 200, left = 36, bottom = 24, top = 10;
    const plot = height - bottom - top;
    const most = Math.max(...days.map((d) => d.total), 1);
    const step = (width - left - 40) / days.length;
    const root = svg("svg", { class: "chart", viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": "每日提问量与未答出占比" });
    root.append(svg("line", { class: "axis", x1: left, y1: top + plot, x2: width - 40, y2: top + plot }));
    root.append(svg("text", { x: 2, y: top + 10 }, String(most)), svg("text", { x: width - 36, y: top + 10 }, "100%"));
    const points = [];
    days.forEach((d, i) => {
      const w = Math.min(step * 0.7, 48), x = left + i * step + (step - w) / 2; // a lone day is not a wall
      const h = (d.total / most) * plot, hu = (d.unanswered / most) * plot;
      const share = d.total ? d.unanswered / d.total : 0;
      const bar = svg("rect", { class: "total", x, y: top + plot - h, width: w, height: h });
      bar.append(svg("title", {}, d.day + "：提问 " + d.total + "，未答出 " + d.unanswered + "（" + Math.round(share * 100) + "%）"));
      root.append(bar, svg("rect", { class: "unanswered", x, y: top + plot - hu, width: w, height: hu }));
      points.push((x + w / 2).toFixed(1) + "," + (top + plot - share * plot).toFixed(1));
      root.append(svg("circle", { class: "share-dot", cx: x + w / 2, cy: top + plot - share * plot, r: 3 }));
      if (days.length <= 12 || i % Math.ceil(days.length / 12) === 0) {
        root.append(svg("text", { x, y: height - 6 }, d.day.slice(5)));
      }
    });
    root.append(svg("polyline", { class: "share", points: points.join(" ") }));
    return root;
  }

  function legend(days) {
    const total = days.reduce((n, d) => n + d.total, 0);
    const unanswered = days.reduce((n, d) => n + d.unanswered, 0);
    const share = total ? Math.round((unanswered / total) * 100) : 0;
    const p = element("p", "legend hint", "最近 " + days.length + " 天：提问 " + total + "，未答出 " + unanswered + "（" + share + "%）");
    for (const [cls, label] of [["l-total", "提问"], ["l-unanswered", "未答出"], ["l-share", "未答出占比"]]) {
      p.append(element("span", cls), document.createTextNode(label));
    }
    return p;
  }

  async function reload() {
    try {
      const r = await call("POST", "/api/admin/reload");
      showStatus(r);
      show(r.reloaded ? "已加载新版本 " + r.index_version + "。" : "已是最新版本，无需加载。", "ok");
    } catch (err) {
      show(err.message, "error");
      refresh().catch(() => {});
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", connect);
    $("file").addEventListener("change", loadFile);
    $("name").addEventListener("input", invalidate);
    $("text").addEventListener("input", invalidate);
    $("preview").addEventListener("click", preview);
    $("save").addEventListener("click", save);
    $("rebuild").addEventListener("click", rebuild);
    $("reload").addEventListener("click", reload);
    $("save-checks").addEventListener("click", saveChecks);
    $("load-report").addEventListener("click", loadReport);
  });
})();
