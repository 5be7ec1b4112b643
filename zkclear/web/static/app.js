// The verification page: reads the participant's choices, hands files to the worker (worker.js), shows each
// named check in plain words, the account over time (chart, table) and a CSV export. Every request this page
// makes goes to its own origin (the Content-Security-Policy of `zkclear serve` enforces it as well).

const $ = (id) => document.getElementById(id);
const worker = new Worker("/static/worker.js", { type: "module" });
const pending = new Map();
let nextId = 1;
let historyCsv = null;  // the verifier core's history CSV (zkclear.verifier.participant.history_csv) of the last check
let originEpochs = null;  // [{epoch, bundle, public, inputs, audit?}] from /epochs/index.json, or null
// The verifier core's size limits (zkclear.verifier.published.MAX_RECEIPT_BYTES; a participant file is read with a
// 4096-byte limit): a larger file is refused by its size before it is read, as `zkclear verify` refuses it — the
// page read it whole into the tab and into Python's memory first (red team session 13)
const MAX_RECEIPT_BYTES = 256 * 1024 * 1024;
const MAX_PARTICIPANT_BYTES = 4096;
// The public files' limits: zkclear.verifier.published.MAX_BUNDLE_BYTES, zkclear.jsonsafe.MAX_BYTES for the two JSON
// files; the audit file, which `zkclear verify` reads in pieces and the page holds whole, at the bundle's. The page
// read whatever the site sent, to the end, and a server that never stops sending froze the tab (red team session 16)
const PUBLIC_FILE_LIMITS = {
  "bundle": [1024 * 1024 * 1024, "an epoch bundle"],
  "public.json": [64 * 1024 * 1024, "a JSON file"],
  "inputs.json": [64 * 1024 * 1024, "a JSON file"],
  "audit": [1024 * 1024 * 1024, "an audit file on this page"],
};

function refuseLarger(file, limit, what) {
  if (file.size > limit) throw new Error(`${file.name}: ${file.size} bytes is larger than the ${limit}-byte limit of ${what}`);
}

// The verifier core's named checks (zkclear.verifier.receipt.CHECKS), as the page titles them.
const CHECK_TITLES = {
  "header": "Header",
  "identity": "Identity",
  "values": "Values",
  "path": "Path to the root",
  "root statements": "Root statements",
  "proofs": "Proofs",
};

// A worker that cannot load (its script, Pyodide's) or dies answers nothing: every check waiting on it fails, and so
// does every later one, rather than the page showing "running" for ever (red team session 16)
let workerFailure = null;
function failWorker(text) {
  workerFailure = `the verifier stopped (${text}): reload the page`;
  for (const entry of pending.values()) entry.reject(new Error(workerFailure));
  pending.clear();
}
worker.onerror = (event) => {
  event.preventDefault();
  failWorker(event.message || "its script could not be loaded");
};
worker.onmessageerror = () => failWorker("its answer could not be read");

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
  if (workerFailure) return Promise.reject(new Error(workerFailure));
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

// A public file of this site, refused by its announced size, else once more than `limit` bytes have come
async function fetchBytes(path, [limit, what]) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const tooLarge = () => new Error(`${path}: larger than the ${limit}-byte limit of ${what}`);
  if (Number(response.headers.get("Content-Length")) > limit) {
    response.body.cancel();
    throw tooLarge();
  }
  const reader = response.body.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel();
      throw tooLarge();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes.buffer;
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

function items(text) {
  return text.split(/[,\s]+/).filter(Boolean);
}

// A file name as the worker may use it in a path (the core's messages name it).
function safeName(name) {
  const cleaned = name.replace(/[\/\\\0]/g, "_");
  return cleaned === "." || cleaned === ".." || !cleaned ? "file" : cleaned;
}

// A public file's URL from its path in the epoch list: each folder name percent-encoded, as the server decodes it (a
// folder named with "#", "?" or "%" was cut short or read as another; red team session 16)
function epochUrl(path) {
  return "/epochs/" + path.split("/").map(encodeURIComponent).join("/");
}

async function publicFilesFor(epoch, withAudit) {
  const kinds = [["bundle", "bundle"], ["public", "public.json"], ["inputs", "inputs.json"]];
  if (withAudit) kinds.push(["audit", "audit"]);
  const files = [];
  if ($("source-origin").checked) {
    const entry = (originEpochs || []).find((e) => e.epoch === epoch);
    if (!entry) throw new Error(`epoch ${epoch} is not published on this site`);
    for (const [kind, suffix] of kinds) {
      if (!entry[kind]) throw new Error(`this site does not publish epoch-${epoch}.${suffix}`);
      files.push({ name: `epoch-${epoch}.${suffix}`,
                   data: await fetchBytes(epochUrl(entry[kind]), PUBLIC_FILE_LIMITS[suffix]) });
    }
    return files;
  }
  const chosen = Array.from($("public-files").files);
  for (const [, suffix] of kinds) {
    const name = `epoch-${epoch}.${suffix}`;
    const file = chosen.find((f) => f.name === name);
    if (!file) throw new Error(`choose ${name} among the public files (your receipt is for epoch ${epoch})`);
    refuseLarger(file, ...PUBLIC_FILE_LIMITS[suffix]);
    files.push({ name, data: await file.arrayBuffer() });
  }
  return files;
}

function checkItem(check) {
  const item = document.createElement("li");
  item.dataset.check = check.name;
  if (check.reason) item.dataset.reason = check.reason;
  item.className = check.ok === true ? "pass" : check.ok === false ? "fail" : "skip";
  const mark = check.ok === true ? "✓" : check.ok === false ? "✗" : "–";
  const name = document.createElement("strong");
  name.textContent = `${mark} ${CHECK_TITLES[check.name] || check.name}: `;
  item.append(name, document.createTextNode(check.detail));
  if (check.reason) {
    const code = document.createElement("code");
    code.className = "reason";
    code.textContent = ` [${check.reason}]`;
    item.append(code);
  }
  return item;
}

function renderEpoch(entry) {
  const section = document.createElement("article");
  section.className = "result " + (entry.ok ? "ok" : entry.ok === false ? "failed" : "skipped");
  section.dataset.epoch = String(entry.epoch);
  section.dataset.ok = String(entry.ok);
  const title = document.createElement("h2");
  title.textContent = entry.ok ? `Epoch ${entry.epoch}: your account checks out`
    : entry.ok === false ? `Epoch ${entry.epoch}: the check FAILED` : `Epoch ${entry.epoch}: not checked`;
  section.append(title);
  const source = document.createElement("p");
  source.className = "note";
  source.textContent = `receipt ${entry.receipt}`;
  section.append(source);
  const list = document.createElement("ul");
  list.className = "checks";
  for (const check of entry.checks) list.append(checkItem(check));
  section.append(list);
  if (entry.account) section.append(accountTable(entry.account), marksTable(entry.account.marks));
  $("results").append(section);
}

function table(rows, className) {
  const element = document.createElement("table");
  if (className) element.className = className;
  for (const [label, value] of rows) {
    const row = element.insertRow();
    row.insertCell().textContent = label;
    row.insertCell().textContent = String(value);
  }
  return element;
}

// An amount of smallest units in whole units at `decimals`, exactly (the amount may be the decimal text of an
// integer beyond 2^53: parseExact in worker.js)
function wholeUnits(amount, decimals) {
  const text = String(amount);
  const negative = text.startsWith("-");
  const digits = (negative ? text.slice(1) : text).padStart(decimals + 1, "0");
  const whole = decimals ? `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}` : digits;
  return negative ? `-${whole}` : whole;
}

function accountTable(account) {
  // the collateral balances and the liabilities per asset, as `zkclear verify` prints them: a balance committed
  // below the one owed lowers that asset's liabilities, and the participant who typed no expected balance can
  // only see it here (red team session 13: the page showed neither). Each also in whole units at the venue's
  // decimals, which its reserves are converted with (red team session 15: decimals above the unit the balances
  // are kept in multiply the reserves, and the participant saw only smallest units)
  const collateral = Object.entries(account.collateral);
  const decimals = account.decimals;
  // named by the core: the first key of `decimals` is not it when a collateral asset's id is integer-like ("1000"),
  // which JavaScript lists first (red team session 16: the balance was shown at that asset's decimals, in its name)
  const settlement = account.settlement_asset;
  const assets = [settlement, ...Object.keys(decimals).filter((asset) => asset !== settlement)];
  return table([
    ["Balance", `${account.cash} (smallest units: ${wholeUnits(account.cash, decimals[settlement])} ${settlement})`],
    ...Object.entries(account.positions).filter(([, lots]) => lots !== 0).map(([id, lots]) => [id, `${lots} lots`]),
    ...collateral.map(([asset, held]) => [`${asset} balance`,
      `${held.balance} (smallest units: ${wholeUnits(held.balance, decimals[asset])} ${asset}; haircut value ` +
      `${held.haircut_value}, what it counts for in equity)`]),
    ...(collateral.length ? [["Liabilities", assets.map((asset) =>
      `${asset} ${account.liabilities[asset]} = ${wholeUnits(account.liabilities[asset], decimals[asset])}`).join(", ") +
      " (what the venue counts as owed to you, per asset)"]] : []),
    ["Decimals", assets.map((asset) => `${asset} ${decimals[asset]}`).join(", ") +
      " (the venue's unit of each asset: its reserves are converted to it)"],
    ["Equity", account.equity],
    ["Maintenance requirement", account.maintenance_requirement],
    ["Distance to maintenance", account.distance_to_maintenance],
    ["Margin mode", account.margin_mode],
    ["Leaf", account.leaf_index],
    ["Account key fingerprint", account.account_key_fingerprint],
    ["Venue", account.venue],
    ["Header hash", account.header_hash],
  ], "account");
}

function marksTable(marks) {
  const caption = document.createElement("p");
  caption.className = "note";
  // the page does not recompute the risk data from the inputs (zkclear verify does): these marks are the inputs'
  // and the proofs' risk data may have been computed from others (red team session 13: the caption did not say so)
  caption.textContent = "The epoch's marks (ticks), from its public inputs — not checked here against the risk " +
    "data the proofs use (zkclear verify checks it); compare them with the market:";
  const wrapper = document.createElement("div");
  wrapper.append(caption, table(Object.entries(marks), "marks"));
  return wrapper;
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

function renderHistory(history) {
  historyCsv = history.csv;
  $("history").hidden = false;
  const rows = history.rows;
  const epochs = rows.map((r) => r.epoch);
  drawChart($("chart-money"), epochs, [  // balance last and dashed: it often equals equity (no options held)
    { name: "equity", values: rows.map((r) => r.equity), style: "s1" },
    { name: "requirement", values: rows.map((r) => r.requirement), style: "s2" },
    { name: "balance", values: rows.map((r) => r.cash), style: "s0 dashed" },
  ]);
  const held = history.instruments.filter((i) => rows.some((r) => r.positions[i]));
  drawChart($("chart-positions"), epochs, held.map((i) => ({ name: i, values: rows.map((r) => r.positions[i]) })));
  // the table: the core's rows, the instruments held in lots (red team session 16: it was the CSV split at its
  // commas with columns picked by name, so an instrument the venue named "header_hash" vanished and one named
  // "equity" sat beside the equity under the same title)
  const columns = [["epoch", (r) => r.epoch], ["margin mode", (r) => r.margin_mode], ["cash", (r) => r.cash],
    ...held.map((i) => [`${i} (lots)`, (r) => r.positions[i]]), ["equity", (r) => r.equity],
    ["maintenance requirement", (r) => r.requirement],
    ["distance to maintenance", (r) => r.distance_to_maintenance]];
  const element = $("history-table");
  element.replaceChildren();
  const head = element.createTHead().insertRow();
  for (const [title] of columns) head.insertCell().textContent = title;
  for (const r of rows) {
    const row = element.insertRow();
    for (const [, value] of columns) row.insertCell().textContent = String(value(r));
  }
  const chain = $("chain");
  chain.replaceChildren();
  for (const link of history.links) {
    const item = document.createElement("li");
    item.className = link.ok ? "pass" : "skip";
    item.textContent = `${link.ok ? "✓" : "–"} ${link.detail}`;
    chain.append(item);
  }
  // what was checked of the key, as `zkclear verify` says it: one receipt with no key pinned checks nothing of it
  // (red team session 16: the page showed "✓ your account key … is the same in your receipt")
  const key = document.createElement("li");
  const checked = history.key_pinned || rows.length > 1;
  key.className = checked ? "pass" : "skip";
  key.textContent = `${checked ? "✓" : "–"} your account key (fingerprint ${history.key_fingerprint}) ` +
    (history.key_pinned ? `is the one you pinned${rows.length > 1 ? ` in all ${rows.length} receipts` : ""}`
      : rows.length > 1 ? `is the same in all ${rows.length} receipts`
        : "is not pinned: your participant file or account key checks that it is the one you were given");
  chain.append(key);
}

function renderCrowdAudit(audit) {
  $("crowd").hidden = false;
  const item = $("crowd-result");
  item.className = audit.ok ? "pass" : "fail";
  item.dataset.check = "crowd audit";
  if (audit.reason) item.dataset.reason = audit.reason;
  item.textContent = `${audit.ok ? "✓" : "✗"} ${audit.detail}${audit.reason ? ` [${audit.reason}]` : ""}`;
}

$("export-csv").addEventListener("click", () => {
  const blob = new Blob([historyCsv], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `zkclear-account-${$("account-id").value.trim() || "history"}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
});

// -- the check ------------------------------------------------------------------------------------

function headerHashes(receipts) {
  const given = items($("posted-hash").value);
  if (!given.length) return receipts.map(() => null);
  if (given.length === 1) return receipts.map((r, n) => (n === receipts.length - 1 ? given[0] : null));
  if (given.length === receipts.length) return given;
  throw new Error(`give one header hash (for your latest epoch) or one per receipt in epoch order: ` +
    `${given.length} hashes for ${receipts.length} receipts`);
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("results").replaceChildren();
  $("history").hidden = true;
  $("crowd").hidden = true;
  historyCsv = null;
  delete document.body.dataset.ok;  // the last check's verdict is not this one's
  const button = $("check");
  button.disabled = true;
  document.body.dataset.state = "running";
  try {
    const accountId = $("account-id").value.trim();
    if (!accountId) throw new Error("enter your account id");
    const chosen = Array.from($("receipts").files);
    if (!chosen.length) throw new Error("choose your receipt file");
    const crowd = Number.parseInt($("crowd-audit").value || "0", 10);
    if (!(crowd >= 0)) throw new Error("the number of chunks to crowd-audit is a whole number");

    const receipts = [];
    for (const file of chosen) refuseLarger(file, MAX_RECEIPT_BYTES, "a receipt");
    const participant = $("participant-file").files[0];
    if (participant) refuseLarger(participant, MAX_PARTICIPANT_BYTES, "a participant file");
    for (const file of chosen) {
      const bytes = await file.arrayBuffer();
      setStatus(`reading ${file.name}`, null);
      const answer = await ask({ type: "epoch-of", receipt: bytes.slice(0) }, setStatus);
      if (answer.error) throw new Error(`${file.name} is not a zkclear receipt (${answer.error})`);
      receipts.push({ file, bytes, epoch: answer.epoch });
    }
    receipts.sort((a, b) => a.epoch - b.epoch);
    const latest = receipts[receipts.length - 1];
    const hashes = headerHashes(receipts);
    const files = [];
    const fetched = new Set();
    const epochs = [];
    for (const [n, receipt] of receipts.entries()) {
      const folder = `/epochs/${receipt.epoch}`;
      if (!fetched.has(receipt.epoch)) {
        setStatus(`fetching epoch ${receipt.epoch}'s public files`, null);
        for (const file of await publicFilesFor(receipt.epoch, crowd > 0 && receipt.epoch === latest.epoch)) {
          files.push({ path: `${folder}/${file.name}`, data: file.data });
        }
        fetched.add(receipt.epoch);
      }
      const path = `/receipts/${n + 1}/${safeName(receipt.file.name)}`;
      files.push({ path, data: receipt.bytes });
      const isLatest = n === receipts.length - 1;
      const positions = items($("expected-positions").value);
      const balances = items($("expected-balances").value);
      epochs.push({
        folder, receipt: path, header_hash: hashes[n],
        cash: isLatest ? $("expected-cash").value.trim() || null : null,
        positions: isLatest && positions.length ? positions : null,
        balances: isLatest && balances.length ? balances : null,
        margin_mode: isLatest ? $("expected-margin-mode").value || null : null,
      });
    }
    let participantFile = null;
    if (participant) {
      participantFile = `/participant/${safeName(participant.name)}`;
      files.push({ path: participantFile, data: await participant.arrayBuffer() });
    }
    const request = {
      account_id: accountId, epochs, participant_file: participantFile,
      account_key: $("account-key").value.trim() || null, crowd_audit: crowd,
    };
    const reply = await ask({ type: "verify", request, files }, setStatus);
    const { result } = reply;
    if (result.error) throw new Error(result.error);
    for (const entry of result.epochs) renderEpoch(entry);
    if (result.history) renderHistory(result.history);
    if (result.crowd_audit) renderCrowdAudit(result.crowd_audit);
    $("verifier-info").textContent = `Verifier: zkclear-verifier.zip, SHA-256 ${reply.verifierDigest}, run by Pyodide in this tab.`;
    $("timing").textContent = `Python loaded in ${reply.bootSeconds.toFixed(1)} s; the check took ${reply.seconds.toFixed(1)} s.`;
    document.body.dataset.checkSeconds = String(reply.seconds);
    document.body.dataset.bootSeconds = String(reply.bootSeconds);
    document.body.dataset.ok = String(result.ok);
    setStatus(result.ok ? "done: every check passed" : "done: a check failed", 1);
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
