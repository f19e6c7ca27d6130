// The page only calls the JSON API (/v1/...) and shows what it answers; all judgement is the
// library's. Text from the server or the user is always set with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "boundary-nlp-token";

function headers(json) {
  const h = {};
  if (json) h["content-type"] = "application/json";
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h["authorization"] = "Bearer " + token;
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON: handled below */ }
  if (!response.ok) {
    if (response.status === 401) $("token-box").hidden = false;
    const message = data && data.error ? data.error : "HTTP " + response.status;
    throw new Error(message);
  }
  return data;
}

function setStatus(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
}

function labelText(prediction) {
  return prediction.label_zh === prediction.label
    ? prediction.label : prediction.label_zh + " " + prediction.label;
}

function badge(el, label, text) {
  el.className = "badge " + label;
  el.textContent = text;
}

// Evidence terms are the model's normalized terms ("帮 我" is the word pair 帮+我): find them
// in the message as typed, ignoring the spaces between words and letter case.
function highlight(container, text, evidence) {
  const lower = text.toLowerCase();
  const marked = new Array(text.length).fill(false);
  for (const item of evidence) {
    const term = item.term.replace(/\s+/g, "").toLowerCase();
    if (!term) continue;
    let at = lower.indexOf(term);
    while (at !== -1) {
      for (let i = at; i < at + term.length; i++) marked[i] = true;
      at = lower.indexOf(term, at + term.length);
    }
  }
  container.replaceChildren();
  let start = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i === text.length || marked[i] !== marked[start]) {
      const piece = text.slice(start, i);
      if (marked[start]) {
        const mark = document.createElement("mark");
        mark.textContent = piece;
        container.appendChild(mark);
      } else {
        container.appendChild(document.createTextNode(piece));
      }
      start = i;
    }
  }
  if (evidence.length) {
    const terms = document.createElement("span");
    terms.className = "muted";
    terms.textContent = "  (" + evidence.map((e) => e.term + " +" + e.weight.toFixed(2)).join(", ") + ")";
    container.appendChild(terms);
  }
}

function showProbabilities(probabilities, labelsZh) {
  const box = $("probabilities");
  box.replaceChildren();
  const entries = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of entries) {
    const row = document.createElement("div");
    row.className = "bar";
    const name = document.createElement("span");
    name.textContent = (labelsZh[label] && labelsZh[label] !== label ? labelsZh[label] + " " : "") + label;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill " + label;
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.textContent = p.toFixed(3);
    row.append(name, track, value);
    box.appendChild(row);
  }
}

let labelsZh = {};

async function classify() {
  const text = $("message").value;
  if (!text.trim()) {
    setStatus("status", "请先输入客户消息 / type a message first", true);
    return;
  }
  $("classify").disabled = true;
  setStatus("status", "判断中… / classifying…");
  try {
    // analyze: each ask of the message on its own, the most serious one decides
    const analysis = await api("POST", "/v1/analyze", { text });
    const p = analysis.overall;
    for (const part of analysis.parts) labelsZh[part.prediction.label] = part.prediction.label_zh;
    labelsZh[p.label] = p.label_zh;
    badge($("label"), p.label, labelText(p));
    $("label").dataset.label = p.label;
    $("confidence").textContent = p.confidence.toFixed(3);
    $("uncertain").hidden = !p.uncertain;
    showProbabilities(p.probabilities, labelsZh);
    highlight($("highlighted"), text, p.evidence);
    $("advice").textContent = p.advice ? p.advice.action : "（没有针对这个标签的建议 / no advice for this label）";
    $("reply").textContent = p.advice ? p.advice.reply : "";
    $("copy").hidden = !p.advice;
    $("copy").textContent = "复制 Copy";
    const parts = $("parts");
    parts.replaceChildren();
    for (const part of analysis.parts) {
      const li = document.createElement("li");
      li.appendChild(document.createTextNode(part.text));
      const b = document.createElement("span");
      badge(b, part.prediction.label, labelText(part.prediction));
      li.appendChild(b);
      parts.appendChild(li);
    }
    $("parts-box").hidden = analysis.parts.length < 2;
    $("reason").textContent = analysis.reason;
    $("result").hidden = false;
    setStatus("status", "");
  } catch (error) {
    setStatus("status", "出错了 / error: " + error.message, true);
  } finally {
    $("classify").disabled = false;
  }
}

function showLedger(status, history) {
  badge($("degree"), status.over_limit ? "over" : "within",
    status.over_limit ? "已超出合理的度 over the degree" : "在合理的度之内 within the degree");
  $("courtesy-count").textContent =
    status.window_days + " 天内人情帮忙 " + status.courtesy_count + " 次（上限 " + status.limit + "）";
  $("prohibited-count").textContent = status.prohibited_count || status.prohibited_total
    ? "越界请求：窗口内 " + status.prohibited_count + " 次，累计 " + status.prohibited_total +
      " 次 / prohibited: " + status.prohibited_count + " in the window, " + status.prohibited_total + " in total"
    : "";
  $("ledger-advice").textContent = status.advice ? status.advice.action : "";
  const body = $("history");
  body.replaceChildren();
  for (const entry of history.entries.slice().reverse()) {
    const tr = document.createElement("tr");
    const when = new Date(entry.when);
    const cells = [
      isNaN(when) ? entry.when : when.toLocaleString(),
      (labelsZh[entry.label] && labelsZh[entry.label] !== entry.label ? labelsZh[entry.label] + " " : "") + entry.label,
      entry.confidence.toFixed(2),
      entry.text,
    ];
    cells.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = value;
      if (i === 1) td.className = "label-cell " + entry.label;
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  $("history-note").textContent = history.total > history.entries.length
    ? "显示最近 " + history.entries.length + " 条，共 " + history.total + " 条 / latest " +
      history.entries.length + " of " + history.total
    : "共 " + history.total + " 条 / " + history.total + " recorded";
  $("ledger").hidden = false;
}

async function loadLedger(client) {
  const q = "?client=" + encodeURIComponent(client);
  const [status, history] = await Promise.all([
    api("GET", "/v1/ledger/status" + q),
    api("GET", "/v1/ledger/history" + q),
  ]);
  showLedger(status, history);
}

async function ledgerAction(record) {
  const client = $("client").value.trim();
  if (!client) {
    setStatus("ledger-status", "请先填写客户名称 / name the client first", true);
    return;
  }
  const text = $("message").value;
  if (record && !text.trim()) {
    setStatus("ledger-status", "请先在上面输入客户消息 / type the message above first", true);
    return;
  }
  try {
    if (record) {
      const status = await api("POST", "/v1/ledger/record", { client, text });
      setStatus("ledger-status", "已记录：" + labelText(status.latest) + " / recorded");
    } else {
      setStatus("ledger-status", "");
    }
    await loadLedger(client);
  } catch (error) {
    setStatus("ledger-status", "出错了 / error: " + error.message, true);
  }
}

async function copyReply() {
  const text = $("reply").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents($("reply"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  $("copy").textContent = "已复制 ✓";
}

async function start() {
  $("classify").addEventListener("click", classify);
  $("message").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) classify();
  });
  $("record").addEventListener("click", () => ledgerAction(true));
  $("ledger-show").addEventListener("click", () => ledgerAction(false));
  $("copy").addEventListener("click", copyReply);
  $("token-save").addEventListener("click", () => {
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    $("token-box").hidden = true;  // shown again if the server refuses it
    setStatus("status", "令牌已保存 / token saved");
    loadLabelNames();
  });
  try {
    const health = await api("GET", "/v1/health");
    $("version").textContent = "· boundary-nlp " + health.version;
    $("token-box").hidden = !health.auth_required || Boolean(sessionStorage.getItem(TOKEN_KEY));
  } catch (error) {
    setStatus("status", "服务器无响应 / server not answering: " + error.message, true);
    return;
  }
  if ($("token-box").hidden) loadLabelNames();
}

async function loadLabelNames() {
  try {
    labelsZh = Object.assign(labelsZh, (await api("GET", "/v1/model")).labels_zh);
  } catch (error) { /* names then come with the first answer */ }
}

document.addEventListener("DOMContentLoaded", start);
