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
      for (const id of ["reload", "preview"]) $(id).disabled = false;
      show("已连接。", "ok");
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
      $("text").value = reader.result;
      invalidate();
    };
    reader.onerror = () => show("无法读取文件。", "error");
    reader.readAsText(file, "utf-8");
  }

  function invalidate() {
    previewed = null;
    $("save").disabled = true;
  }

  function renderPreview(p, out) {
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
      ["序号", c.rank], ["来源", c.source], ["简称", (c.aliases || []).join("、")],
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
    out.append(meta, list);
  }

  async function preview() {
    const body = { name: $("name").value.trim(), text: $("text").value };
    const out = $("preview-out");
    out.replaceChildren();
    invalidate();
    try {
      const p = await call("POST", "/api/admin/preview", body);
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
        show(r.message, r.state === "done" ? "ok" : "error");
        await refresh();
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
  });
})();
