// engine.js: bootstrap of the engine worker, the Web Worker that runs Ladle's merging
// core (engine.wasm, package ladle/wasm/engine) so that the page thread only renders.
// Messages that arrive while the WebAssembly module compiles are queued in
// self.ladleQueue; Go takes them over and posts {type: "ready"} once it listens.
//
// JS-facing reference (the full protocol: package ladle/ui/engine, doc.go):
//
//   const w = new Worker("engine.js");
//   w.onmessage = ({data: m}) => { switch (m.type) { ... } };
//
//   page → worker                                   worker → page (same id)
//   {type: "methods", id}                           {type: "methods", id, methods: [{name, summary, params: [...]}]}
//   {type: "inspect", id, files: [File]}            {type: "inspected", id, models: [{name, format, metadata,
//                                                     tensors: [{name, dtype, shape}], parameters, bytes}]}
//   {type: "merge", id, recipe: "yaml", files,      {type: "progress", id, tensorsDone, tensorsTotal, bytesDone,
//    seed?, threads?, output?, name?,                 bytesTotal, tensor, wasmMemory}   (at most every 100 ms, and the last)
//    storage?: "memory"|"opfs"|"auto",              {type: "done", id, blob, name, bytes, seconds, wasmMemory, part?}
//    part?: {index, count}}                         {type: "cancelled", id}
//   {type: "cancel", id}                            {type: "error", id, error: {message, file?, tensor?, where?}}
//   {type: "read", id, files}    (benchmark)        {type: "read", id, bytes, seconds}
//   {type: "memory", id}                            {type: "memory", id, wasmMemory}
//   {type: "backend", id, scale?}                   {type: "backend", id, gpu, name, reason?, adapter?, text,
//                                                     tests: [{kernel, elements, onGPU, maxError?, error?}], stats?}
//   (unasked)                                       {type: "backend", ...} without id: once the self-tests are
//                                                     done, and again if the WebGPU device is lost
//
// The worker's own URL chooses its compute backend: engine.js?gpu=auto|off|force (the
// page passes its ?gpu= on; package ladle/wasm/gpu). Merges are the same bytes either way.
//
// Model names in a recipe are the names of the files sent with it. A split merge: send
// the same merge with part {index: i, count: k} to k workers and join the results in
// index order, new Blob([blob0, blob1, ...]): the bytes are those of one worker's merge.
"use strict";
importScripts("wasm_exec.js");

// The lines Go wrote to its standard error from the last panic or fatal error on (its
// message and stack), so that a worker whose program stops says why, to the page and
// not only to the console.
const stderrTail = [];
{
  const fs = globalThis.fs, write = fs.writeSync.bind(fs), dec = new TextDecoder();
  let partial = "";
  fs.writeSync = (fd, buf) => {
    if (fd === 2) {
      const lines = (partial + dec.decode(buf, {stream: true})).split("\n");
      partial = lines.pop();
      for (const l of lines) {
        if (/^(panic|fatal error):/.test(l)) stderrTail.length = 0;
        if (stderrTail.length < 40) stderrTail.push(l);
      }
    }
    return write(fd, buf);
  };
}
// why is the first line of a panic or fatal error in that tail ("" when none).
const why = () => stderrTail.find((l) => /^(panic|fatal error):/.test(l)) || "";

self.ladleQueue = [];
// A worker started by the page as "ladle-engine" gets the compiled engine.wasm from it
// ({type: "module", module}, first), so that it is downloaded once for all workers;
// any other worker fetches it itself.
let moduleFromPage = null;
if (self.name === "ladle-engine") {
  moduleFromPage = new Promise((resolve, reject) => {
    self.onmessage = (e) => {
      if (e.data && e.data.type === "module") {
        self.onmessage = (e) => { self.ladleQueue.push(e); };
        if (e.data.module) resolve(e.data.module); else reject(new Error(e.data.error || "no module"));
        return;
      }
      self.ladleQueue.push(e);
    };
  });
} else {
  self.onmessage = (e) => { self.ladleQueue.push(e); };
}

let memory = null;
// The size of the engine's WebAssembly memory, in bytes: Go reports it in progress and
// done messages (the tab's JS heap size does not include it).
self.ladleWasmMemory = () => (memory ? memory.buffer.byteLength : 0);
// The engine's WebAssembly.Memory itself: package ladle/wasm/simd instantiates its
// SIMD product on it, to compute on the Go slices in place.
self.ladleGoMemory = () => memory;

// fetchWasm fetches engine.wasm as app.js fetches app.wasm: its .gz copy, unpacked
// here, where the build wrote one and the browser can unpack it.
const fetchWasm = async (url) => {
  if (typeof DecompressionStream === "function") {
    try {
      const gz = await fetch(url + ".gz", {credentials: "same-origin"});
      if (gz.ok && !gz.headers.get("Content-Encoding")) {
        return new Response(gz.body.pipeThrough(new DecompressionStream("gzip")), {headers: {"Content-Type": "application/wasm"}});
      }
    } catch (e) { /* fall back to the plain file */ }
  }
  return fetch(url, {credentials: "same-origin"});
};

(async () => {
  const go = new Go();
  let result;
  try {
    if (moduleFromPage) {
      const instance = await WebAssembly.instantiate(await moduleFromPage, go.importObject);
      result = {instance};
    } else {
      result = await WebAssembly.instantiateStreaming(await fetchWasm("engine.wasm"), go.importObject);
    }
  } catch (err) {
    self.postMessage({type: "error", error: {message: "the merge engine could not start: " + err}});
    return;
  }
  memory = result.instance.exports.mem;
  await go.run(result.instance);
  const reason = why();
  self.postMessage({type: "error", error: {message: "the merge engine stopped" + (reason ? " (" + reason + ")" : "")}});
})();
