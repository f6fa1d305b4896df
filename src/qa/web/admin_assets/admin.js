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

  async function call(method, path, body) {
    const options = { method, headers: { Authorization: "Bearer " + token } };
    if (body !== undefined) {
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
      for (const id of ["reload", "preview", "save-checks"]) $(id).disabled = false;
      show("已连接。", "ok");
      await Promise.all([listCases(), loadChecks()]);
      if (s.rebuild.state === "running") poll();
    } catch (err) {
      show(err.message, "error");
    }
  }

  function loadFile() {
    const file = $("file").files[0];
    if (!file) return;
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

  function invalidate() {
    previewed = null;
    $("save").disabled = true;
  }

  async function listCases() {
    const r = await call("GET", "/api/admin/cases");
    const body = $("cases").querySelector("tbody");
    body.replaceChildren();
    for (const c of r.cases) {
      const tr = document.createElement("tr");
      const cells = [c.name, c.batch || "—", c.rank === null ? "—" : c.rank, c.title || c.problem, c.unit || "—", c.modified];
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
        show(r.message + hint, r.state === "done" ? "ok" : "error");
        await refresh();
        await listCases();
      } catch (err) {
        show(err.message, "error");
      }
    }, 1000);
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
  });
})();
