// The verification page: reads the participant's choices, hands files to the worker (worker.js), shows each
// named check in plain words, the account over time (chart, table) and a CSV export. Every request this page
// makes goes to its own origin (the Content-Security-Policy of `zkclear serve` enforces it as well).

const $ = (id) => document.getElementById(id);
const worker = new Worker("/static/worker.js", { type: "module" });
const pending = new Map();
let nextId = 1;
let history = [];  // [{epoch, account, result, fileName}] of verified receipts, in epoch order
let originEpochs = null;  // [{epoch, bundle, public, audit?}] from /epochs/index.json, or null

const CHECK_TITLES = {
  "epoch": "Epoch files",
  "identity": "Identity",
  "values": "Values",
  "path": "Path to the root",
  "siblings": "Siblings",
  "own chunk": "Own chunk",
  "root statements": "Root statements",
};

worker.onmessage = (event) => {
  const message = event.data;
  const entry = pending.get(message.id);
  if (!entry) return;
  if (message.type === "progress") {
    entry.onProgress(message.stage, message.fraction);
    return;
  }
  pending.delete(message.id);
  if (message.type === "error") entry.reject(new Error(message.message));
  else entry.resolve(message);
};

function ask(message, onProgress = () => {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
    worker.postMessage({ ...message, id });
  });
}

function setStatus(stage, fraction) {
  $("status").hidden = false;
  $("stage").textContent = stage;
  const bar = $("progress");
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = fraction;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

async function fetchBytes(path) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function loadOriginEpochs() {
  try {
    const response = await fetch("/epochs/index.json", { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    originEpochs = (await response.json()).epochs;
    $("origin-epochs").textContent = originEpochs.length
      ? `(epochs ${originEpochs.map((e) => e.epoch).join(", ")} are published here)`
      : "(no epoch is published here yet)";
  } catch {
    originEpochs = null;
    $("origin-epochs").textContent = "(this site publishes no epoch list: choose the files)";
    $("source-files").checked = true;
  }
}

function parsePositions(text) {
  const positions = {};
  for (const item of text.split(/[,\s]+/).filter(Boolean)) {
    const match = /^([^=]+)=(-?\d+)$/.exec(item);
    if (!match) throw new Error(`positions: "${item}" is not INSTRUMENT=LOTS`);
    positions[match[1]] = Number.parseInt(match[2], 10);
  }
  return positions;
}

async function publicFilesFor(epoch) {
  if ($("source-origin").checked) {
    const entry = (originEpochs || []).find((e) => e.epoch === epoch);
    if (!entry || !entry.public) throw new Error(`epoch ${epoch} is not published on this site`);
    const [bundle, publicData] = await Promise.all([
      fetchBytes("/epochs/" + entry.bundle), fetchBytes("/epochs/" + entry.public)]);
    return { bundle, public: publicData };
  }
  const chosen = Array.from($("public-files").files);
  const find = (name) => chosen.find((file) => file.name === name);
  const bundle = find(`epoch-${epoch}.bundle`);
  const publicData = find(`epoch-${epoch}.public.json`);
  if (!bundle || !publicData) {
    throw new Error(`choose epoch-${epoch}.bundle and epoch-${epoch}.public.json for your epoch ${epoch} receipt`);
  }
  return { bundle: await bundle.arrayBuffer(), public: await publicData.arrayBuffer() };
}

function renderResult(fileName, epoch, reply) {
  const { result } = reply;
  const section = document.createElement("article");
  section.className = "result " + (result.ok ? "ok" : "failed");
  section.dataset.epoch = String(epoch);
  section.dataset.ok = String(result.ok);
  const title = document.createElement("h2");
  title.textContent = result.ok
    ? `Epoch ${epoch}: your account checks out`
    : `Epoch ${epoch}: the check FAILED`;
  section.append(title);
  const source = document.createElement("p");
  source.className = "note";
  source.textContent = `receipt ${fileName}`;
  section.append(source);
  const list = document.createElement("ul");
  list.className = "checks";
  for (const check of result.checks) {
    const item = document.createElement("li");
    item.dataset.check = check.name;
    item.className = check.ok === true ? "pass" : check.ok === false ? "fail" : "skip";
    const mark = check.ok === true ? "✓" : check.ok === false ? "✗" : "–";
    const name = document.createElement("strong");
    name.textContent = `${mark} ${CHECK_TITLES[check.name] || check.name}: `;
    item.append(name, document.createTextNode(check.detail));
    list.append(item);
  }
  section.append(list);
  if (result.account) section.append(accountTable(result.account));
  if (result.epoch) {
    const ids = document.createElement("p");
    ids.className = "note";
    ids.textContent = `epoch hash ${result.epoch.epoch_hash} · root ${result.epoch.root}`;
    section.append(ids);
  }
  $("results").append(section);
}

function accountTable(account) {
  const table = document.createElement("table");
  const rows = [
    ["Balance", account.cash],
    ...Object.entries(account.positions).filter(([, lots]) => lots !== 0).map(([id, lots]) => [id, `${lots} lots`]),
    ["Equity", account.equity],
    ["Maintenance requirement", account.requirement],
    ["Equity above the requirement", account.excess],
    ["Margin mode", account.margin_mode],
  ];
  for (const [label, value] of rows) {
    const row = table.insertRow();
    row.insertCell().textContent = label;
    row.insertCell().textContent = String(value);
  }
  return table;
}

// -- history: chart, table, CSV -------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function drawChart(svg, epochs, series) {
  svg.replaceChildren();
  const width = 640, height = 220, left = 110, right = 120, top = 12, bottom = 28;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const values = series.flatMap((s) => s.values);
  let low = Math.min(0, ...values), high = Math.max(0, ...values);
  if (low === high) high = low + 1;
  const x = (i) => left + (epochs.length === 1 ? (width - left - right) / 2 : i * (width - left - right) / (epochs.length - 1));
  const y = (v) => top + (high - v) * (height - top - bottom) / (high - low);
  svg.append(svgElement("line", { x1: left, x2: width - right, y1: y(0), y2: y(0), class: "axis" }));
  for (const v of [low, high]) {
    svg.append(svgElement("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toLocaleString("en")));
  }
  epochs.forEach((epoch, i) => {
    svg.append(svgElement("text", { x: x(i), y: height - 8, "text-anchor": "middle", class: "tick" }, `epoch ${epoch}`));
  });
  series.forEach((s, k) => {
    const style = s.style || `s${k % 5}`;
    const points = s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    svg.append(svgElement("polyline", { points, class: `series ${style}`, fill: "none" }));
    s.values.forEach((v, i) => svg.append(svgElement("circle", { cx: x(i), cy: y(v), r: 3, class: `series ${style}` })));
    svg.append(svgElement("text", { x: width - right + 8, y: top + 14 + 16 * k, class: `legend ${style}` }, s.name));
  });
}

function csvRows() {
  const instruments = [...new Set(history.flatMap((h) => Object.keys(h.account.positions)))];
  const header = ["epoch", "account_id", "balance", ...instruments.map((i) => `position:${i}`), "equity",
    "maintenance_requirement", "equity_above_requirement", "margin_mode", "epoch_hash"];
  const rows = history.map((h) => [h.epoch, h.account.account_id, h.account.cash,
    ...instruments.map((i) => h.account.positions[i] ?? 0), h.account.equity, h.account.requirement,
    h.account.excess, h.account.margin_mode, h.result.epoch.epoch_hash]);
  return [header, ...rows];
}

function csvText() {
  const quote = (cell) => /[",\n]/.test(String(cell)) ? `"${String(cell).replaceAll('"', '""')}"` : String(cell);
  return csvRows().map((row) => row.map(quote).join(",")).join("\n") + "\n";
}

function renderHistory(links) {
  if (!history.length) return;
  $("history").hidden = false;
  const epochs = history.map((h) => h.epoch);
  drawChart($("chart-money"), epochs, [  // balance last and dashed: it often equals equity (no options held)
    { name: "equity", values: history.map((h) => h.account.equity), style: "s1" },
    { name: "requirement", values: history.map((h) => h.account.requirement), style: "s2" },
    { name: "balance", values: history.map((h) => h.account.cash), style: "s0 dashed" },
  ]);
  const instruments = [...new Set(history.flatMap((h) => Object.keys(h.account.positions)))]
    .filter((i) => history.some((h) => h.account.positions[i]));
  drawChart($("chart-positions"), epochs,
    instruments.map((i) => ({ name: i, values: history.map((h) => h.account.positions[i] ?? 0) })));
  const table = $("history-table");
  table.replaceChildren();
  const rows = csvRows();
  // the table leaves out the account id, the epoch hash and instruments never held (the CSV keeps them)
  const shown = rows[0].map((name, c) => c).filter((c) => {
    const name = rows[0][c];
    if (name === "account_id" || name === "epoch_hash") return false;
    return !name.startsWith("position:") || rows.slice(1).some((row) => row[c] !== 0);
  });
  for (const [r, row] of rows.entries()) {
    const line = r === 0 ? table.createTHead().insertRow() : table.insertRow();
    for (const c of shown) line.insertCell().textContent = String(row[c]).replace("position:", "");
  }
  const chain = $("chain");
  chain.replaceChildren();
  for (const link of links) {
    const item = document.createElement("li");
    item.className = link.ok ? "pass" : "fail";
    item.textContent = `${link.ok ? "✓" : "✗"} ${link.detail}`;
    chain.append(item);
  }
}

$("export-csv").addEventListener("click", () => {
  const blob = new Blob([csvText()], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `zkclear-account-${history[0]?.account.account_id || "history"}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});

// -- the check ------------------------------------------------------------------------------------

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("results").replaceChildren();
  $("history").hidden = true;
  history = [];
  const button = $("check");
  button.disabled = true;
  document.body.dataset.state = "running";
  try {
    const accountId = $("account-id").value.trim();
    if (!accountId) throw new Error("enter your account id");
    const files = Array.from($("receipts").files);
    if (!files.length) throw new Error("choose your receipt file");
    const expectedCash = $("expected-cash").value.trim();
    if (expectedCash && !/^-?\d+$/.test(expectedCash)) throw new Error("the balance must be a whole number");
    const positionsText = $("expected-positions").value.trim();
    const expectedPositions = positionsText ? parsePositions(positionsText) : null;
    const postedHash = $("posted-hash").value.trim();

    const receipts = [];
    for (const file of files) {
      const bytes = await file.arrayBuffer();
      setStatus(`reading ${file.name}`, null);
      const answer = await ask({ type: "epoch-of", receipt: bytes.slice(0) }, setStatus);
      if (answer.error) throw new Error(`${file.name} is not a zkclear receipt (${answer.error})`);
      receipts.push({ file, bytes, epoch: answer.epoch });
    }
    receipts.sort((a, b) => a.epoch - b.epoch);
    const latest = receipts[receipts.length - 1];
    const bundles = {};
    let totalSeconds = 0;
    for (const [n, receipt] of receipts.entries()) {
      const prefix = receipts.length > 1 ? `receipt ${n + 1} of ${receipts.length}: ` : "";
      const publicFiles = await publicFilesFor(receipt.epoch);
      bundles[receipt.epoch] = publicFiles.bundle.slice(0);
      const isLatest = receipt === latest;
      const request = {
        account_id: accountId,
        expected_cash: isLatest && expectedCash ? expectedCash : null,
        expected_positions: isLatest ? expectedPositions : null,
        posted_hash: isLatest && postedHash ? postedHash : null,
      };
      const reply = await ask(
        { type: "check", request, files: { ...publicFiles, receipt: receipt.bytes.slice(0) } },
        (stage, fraction) => setStatus(prefix + stage, (n + fraction) / receipts.length));
      totalSeconds += reply.seconds;
      renderResult(receipt.file.name, receipt.epoch, reply);
      if (reply.result.ok) history.push({ epoch: receipt.epoch, account: reply.result.account, result: reply.result });
      $("verifier-info").textContent = `Verifier: zkclear-verifier.zip, SHA-256 ${reply.verifierDigest}, run by Pyodide in this tab.`;
      $("timing").textContent = `Python loaded in ${reply.bootSeconds.toFixed(1)} s; checks took ${totalSeconds.toFixed(1)} s.`;
      document.body.dataset.lastCheckSeconds = String(reply.seconds);
      document.body.dataset.bootSeconds = String(reply.bootSeconds);
    }
    // Fill the gaps of the chain from this site when it publishes them (public files only).
    if ($("source-origin").checked && originEpochs && receipts.length > 1) {
      for (let e = receipts[0].epoch; e <= latest.epoch; e++) {
        const entry = originEpochs.find((x) => x.epoch === e);
        if (!(e in bundles) && entry) bundles[e] = await fetchBytes("/epochs/" + entry.bundle);
      }
    }
    const chain = receipts.length > 1 ? (await ask({ type: "chain", bundles })).links : [];
    renderHistory(chain);
    setStatus("done", 1);
  } catch (error) {
    showError(String(error.message || error));
    $("status").hidden = true;
  } finally {
    button.disabled = false;
    document.body.dataset.state = "done";
  }
});

$("source-files").addEventListener("change", () => { $("public-files").disabled = false; });
$("source-origin").addEventListener("change", () => { $("public-files").disabled = true; });
$("public-files").disabled = true;
loadOriginEpochs();
