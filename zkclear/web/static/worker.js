// The verification worker: loads Pyodide and zkclear's pure-Python verifier from this page's own origin, then
// runs zkclear.web.bridge on the files the page hands it. It fetches nothing else and sends nothing anywhere.
import { loadPyodide } from "/pyodide/pyodide.mjs";

const VERIFIER_URL = "/verifier/zkclear-verifier.zip";
const GENERATORS_URL = "/verifier/bulletproofs-generators-4096.bin";
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
import json
from pathlib import Path
from zkclear.web import bridge

def _read(names):
    return {name: Path("/in/" + name).read_bytes() for name in names}

def check(request, progress):
    return bridge.check_receipt_json(request, _read(("bundle", "public", "receipt")), progress)

def epoch_of(name):
    try:
        return json.dumps({"epoch": bridge.receipt_epoch(_read((name,))[name])})
    except Exception as exc:
        return json.dumps({"error": str(exc)})

def chain(epochs):
    return json.dumps(bridge.check_chain_of({int(e): Path(f"/in/bundle-{e}").read_bytes() for e in epochs}))
`);
  pyodide.FS.mkdirTree("/in");
  progress("loading the precomputed generators", 0.0);
  pyodide.FS.writeFile("/in/generators", new Uint8Array(generators));
  pyodide.runPython(`bridge.preload_generators(Path("/in/generators").read_bytes())`);
  bootSeconds = (performance.now() - started) / 1000;
  return pyodide;
}

function write(pyodide, name, buffer) {
  pyodide.FS.writeFile("/in/" + name, new Uint8Array(buffer));
}

self.onmessage = async (event) => {
  const message = event.data;
  const progress = (stage, fraction) => self.postMessage({ type: "progress", id: message.id, stage, fraction });
  try {
    booting = booting || boot(progress);
    const pyodide = await booting;
    if (message.type === "epoch-of") {
      write(pyodide, "receipt", message.receipt);
      const answer = JSON.parse(pyodide.globals.get("epoch_of")("receipt"));
      self.postMessage({ type: "epoch-of", id: message.id, ...answer });
    } else if (message.type === "check") {
      for (const name of ["bundle", "public", "receipt"]) write(pyodide, name, message.files[name]);
      const started = performance.now();
      const result = JSON.parse(pyodide.globals.get("check")(JSON.stringify(message.request), progress));
      const seconds = (performance.now() - started) / 1000;
      self.postMessage({ type: "result", id: message.id, result, seconds, bootSeconds, verifierDigest });
    } else if (message.type === "chain") {
      for (const [epoch, buffer] of Object.entries(message.bundles)) write(pyodide, `bundle-${epoch}`, buffer);
      const links = JSON.parse(pyodide.globals.get("chain")(pyodide.toPy(Object.keys(message.bundles))));
      self.postMessage({ type: "chain", id: message.id, links });
    }
  } catch (error) {
    self.postMessage({ type: "error", id: message.id, message: String(error && error.message ? error.message : error) });
  }
};
