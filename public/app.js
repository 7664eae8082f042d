// app.js: starts the page program (app.wasm, package ladle/wasm/app), which mounts the
// playground's UI into <div id="ladle-app">. The merging itself runs in the engine
// workers (engine.js), never on this thread.
//
// Start-up on slow links: the download shows its progress (bytes of total); the
// WebAssembly compiles while it streams in; the gzip copy the build writes beside the
// .wasm is fetched as it is and unpacked here (DecompressionStream), so that the bytes
// counted are the bytes on the wire and the total is known (a Content-Encoding'd
// response only counts unpacked bytes, against no total). The engine workers start as
// soon as the page's own program is in: their engine.wasm then downloads while app.wasm
// compiles and starts, without halving the page's own download on a slow link; it is
// downloaded and compiled once and the module shared by every worker. The
// workers wait in window.ladleWorkers for the page program, which takes them over
// with the messages they sent meanwhile (ladleEarly).
"use strict";

// ladleFetchWasm fetches a .wasm file (its .gz copy where there is one and the browser
// can unpack it) as a Response for WebAssembly.instantiateStreaming, calling
// progress(bytesReceived, bytesTotal) as it arrives (total 0 when unknown) and done()
// once every byte is in.
self.ladleFetchWasm = async (url, progress, done) => {
  let resp = null, packed = false;
  if (typeof DecompressionStream === "function") {
    try {
      const gz = await fetch(url + ".gz", {credentials: "same-origin"});
      if (gz.ok && !gz.headers.get("Content-Encoding")) {
        resp = gz;
        packed = true;
      }
    } catch (e) { /* fall back to the plain file */ }
  }
  if (!resp) resp = await fetch(url, {credentials: "same-origin"});
  if (!resp.ok) throw new Error(url + ": the server answered " + resp.status);
  const total = resp.headers.get("Content-Encoding") ? 0 : Number(resp.headers.get("Content-Length")) || 0;
  let received = 0;
  let body = resp.body.pipeThrough(new TransformStream({
    transform(chunk, ctl) { received += chunk.byteLength; progress(received, total); ctl.enqueue(chunk); },
    flush() { done(); },
  }));
  if (packed) body = body.pipeThrough(new DecompressionStream("gzip"));
  return new Response(body, {headers: {"Content-Type": "application/wasm"}});
};

(async () => {
  const status = document.getElementById("ladle-boot");
  const bar = document.getElementById("ladle-boot-progress");
  const mb = (n) => (n / 1e6).toFixed(1);
  const progress = (got, total) => {
    if (status) status.textContent = total ? `Loading the playground: ${mb(got)} of ${mb(total)} MB…` : `Loading the playground: ${mb(got)} MB…`;
    if (bar && total) { bar.hidden = false; bar.max = total; bar.value = got; }
  };
  const startEngines = () => {
    if (self.ladleWorkers) return;
    const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4)); // state.MaxWorkers
    self.ladleEnginesReady = 0;
    self.ladleWorkers = [];
    // engine.wasm is downloaded and compiled once, here, and the module is handed to
    // every worker (named "ladle-engine", they wait for it): n workers do not download
    // it n times.
    const engine = self.ladleFetchWasm("engine.wasm", () => {}, () => {}).then((r) => WebAssembly.compileStreaming(r));
    // ?gpu= (and the test hook ?gpucorrupt=) reach the workers, which choose their
    // compute backend from their own URL (wasm/app/pool.go builds the same one).
    const q = new URLSearchParams(location.search), wq = new URLSearchParams();
    for (const k of ["gpu", "gpucorrupt"]) if (q.get(k)) wq.set(k, q.get(k));
    const script = "engine.js" + (wq.toString() ? "?" + wq.toString() : "");
    for (let i = 0; i < n; i++) {
      const w = new Worker(script, {name: "ladle-engine"});
      engine.then((module) => w.postMessage({type: "module", module}),
        (err) => w.postMessage({type: "module", error: String(err)}));
      w.ladleEarly = [];
      w.addEventListener("message", (e) => {
        if (e.data && e.data.type === "ready") {
          self.ladleEnginesReady++;
          if (self.ladleEnginesReady === n && performance.mark) performance.mark("ladle-engines-ready");
        }
        if (w.ladleEarly) w.ladleEarly.push(e);
      });
      w.addEventListener("error", (e) => { if (w.ladleEarly) w.ladleEarly.push(e); });
      self.ladleWorkers.push(w);
    }
  };
  const go = new Go();
  try {
    const resp = await self.ladleFetchWasm("app.wasm", progress, startEngines);
    const result = await WebAssembly.instantiateStreaming(resp, go.importObject);
    startEngines();
    if (status) status.remove();
    if (bar) bar.remove();
    await go.run(result.instance);
  } catch (err) {
    if (status) status.textContent = "The playground could not start: " + err.message;
  }
})();
