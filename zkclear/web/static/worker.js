// The verification worker: loads Pyodide and zkclear's pure-Python verifier from this page's own origin, then
// runs zkclear.web.bridge (zkclear verify's path, on the verifier core) on the files the page hands it, written
// into Pyodide's in-memory file system in a publication folder's layout. It fetches nothing else and sends
// nothing anywhere.
import { loadPyodide } from "/pyodide/pyodide.mjs";
import { parseExact } from "/static/exact.js";

const VERIFIER_URL = "/verifier/zkclear-verifier.zip";
const GENERATORS_URL = "/verifier/zkclear-generators-v2-8192.bin";
// The only folders the page's files are written to (emptied before each check).
const INPUT_FOLDERS = ["/epochs", "/receipts", "/participant"];
let booting = null;
let verifierDigest = null;
let bootSeconds = null;

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function fetchBytes(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function boot(progress) {
  const started = performance.now();
  progress("loading Python (Pyodide)", 0.0);
  const pyodide = await loadPyodide({ indexURL: "/pyodide/", fullStdLib: false });
  progress("loading the zkclear verifier", 0.0);
  const [zip, generators] = await Promise.all([fetchBytes(VERIFIER_URL), fetchBytes(GENERATORS_URL)]);
  verifierDigest = hex(await crypto.subtle.digest("SHA-256", zip));
  pyodide.unpackArchive(zip, "zip", { extractDir: "/verifier" });
  pyodide.runPython(`
import sys
sys.path.insert(0, "/verifier")
import json, shutil
from pathlib import Path
from zkclear.web import bridge

def epoch_of(path):
    try:
        return json.dumps({"epoch": bridge.receipt_epoch(Path(path).read_bytes())})
    except Exception as exc:
        return json.dumps({"error": str(exc)})

def clear_inputs(folders):
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)

def verify(request, progress):
    return bridge.verify_json(request, progress)
`);
  progress("loading the precomputed generators", 0.0);
  pyodide.FS.mkdirTree("/boot");
  pyodide.FS.writeFile("/boot/generators", new Uint8Array(generators));
  pyodide.runPython(`bridge.preload_generators(Path("/boot/generators").read_bytes())`);
  bootSeconds = (performance.now() - started) / 1000;
  return pyodide;
}

function writeInput(pyodide, path, buffer) {
  const parts = path.split("/");
  if (!INPUT_FOLDERS.includes("/" + parts[1]) || parts.some((p, i) => i > 0 && (p === "" || p === "." || p === ".."))) {
    throw new Error(`refusing to write ${path}`);
  }
  pyodide.FS.mkdirTree(parts.slice(0, -1).join("/"));
  pyodide.FS.writeFile(path, new Uint8Array(buffer));
}

self.onmessage = async (event) => {
  const message = event.data;
  const progress = (stage, fraction) => self.postMessage({ type: "progress", id: message.id, stage, fraction });
  try {
    booting = booting || boot(progress);
    const pyodide = await booting;
    if (message.type === "epoch-of") {
      pyodide.FS.writeFile("/boot/probe.rcpt", new Uint8Array(message.receipt));
      const answer = JSON.parse(pyodide.globals.get("epoch_of")("/boot/probe.rcpt"));
      self.postMessage({ type: "epoch-of", id: message.id, ...answer });
    } else if (message.type === "verify") {
      pyodide.globals.get("clear_inputs")(pyodide.toPy(INPUT_FOLDERS));
      for (const file of message.files) writeInput(pyodide, file.path, file.data);
      const started = performance.now();
      const result = parseExact(pyodide.globals.get("verify")(JSON.stringify(message.request), progress));
      const seconds = (performance.now() - started) / 1000;
      self.postMessage({ type: "result", id: message.id, result, seconds, bootSeconds, verifierDigest });
    }
  } catch (error) {
    self.postMessage({ type: "error", id: message.id, message: String(error && error.message ? error.message : error) });
  }
};
