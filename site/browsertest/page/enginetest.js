// enginetest.js: helpers the browser tests and the benchmark call through DevTools
// (window.ladleTest). It talks to engine workers exactly as the playground does: File
// objects from an <input type=file>, messages of the protocol of ladle/ui/engine.
"use strict";

const T = {
  workers: [],
  nextId: 1,
  pending: new Map(), // id → {resolve, messages, progress, maxWasm}
  lastBlob: null,
  log: [],
  errors: [], // messages of a failed worker (type error, no id)

  // start makes n engine workers and resolves when all are ready.
  start(n = 1) {
    const ready = [];
    while (T.workers.length < n) {
      const w = new Worker("engine.js" + location.search); // ?gpu= reaches the worker
      const index = T.workers.length;
      ready.push(new Promise((resolve, reject) => {
        w.onmessage = (e) => {
          const m = e.data;
          if (m.type === "ready") { resolve(m); return; }
          T.route(index, m);
        };
        w.onerror = (e) => reject(new Error("worker error: " + e.message));
      }));
      T.workers.push(w);
    }
    return Promise.all(ready).then(() => T.workers.length);
  },

  route(worker, m) {
    T.log.push({worker, type: m.type, id: m.id});
    if (m.type === "error" && !m.id) {
      // the worker failed as a whole (its program stopped): every request still
      // waiting gets that error rather than waiting forever
      T.errors.push(m);
      for (const [id, p] of T.pending) p.resolve(Object.assign({}, m, {id}));
      T.pending.clear();
      return;
    }
    const p = T.pending.get(m.id);
    if (!p) return;
    if (m.wasmMemory) p.maxWasm = Math.max(p.maxWasm, m.wasmMemory);
    if (m.type === "progress") { p.progress.push(m); return; }
    T.pending.delete(m.id);
    m.progressCount = p.progress.length;
    m.lastProgress = p.progress[p.progress.length - 1] || null;
    m.maxWasm = p.maxWasm;
    p.resolve(m);
  },

  // request posts one request to a worker and resolves with its final message.
  request(msg, worker = 0) {
    const id = msg.id || String(T.nextId++);
    msg.id = id;
    if (T.errors.length) return Promise.resolve(Object.assign({}, T.errors[0], {id})); // the worker has stopped
    return new Promise((resolve) => {
      T.pending.set(id, {resolve, progress: [], maxWasm: 0});
      T.workers[worker].postMessage(msg);
    });
  },

  files() { return Array.from(document.getElementById("files").files); },

  // summary keeps the result Blob in lastBlob and returns what JSON can carry.
  summary(m) {
    const out = Object.assign({}, m);
    if (m.blob) {
      T.lastBlob = m.blob;
      out.blobSize = m.blob.size;
      out.blobType = m.blob.type;
      delete out.blob;
    }
    return out;
  },

  methods() { return T.request({type: "methods"}); },
  backend(scale, worker = 0) { return T.request({type: "backend", scale: scale || 1}, worker); },
  inspect(files) { return T.request({type: "inspect", files: files || T.files()}); },

  async merge(recipe, extra) {
    const m = await T.request(Object.assign({type: "merge", recipe, files: T.files()}, extra || {}));
    return T.summary(m);
  },

  // mergeSplit runs one merge as `count` parts on `count` workers and stitches them.
  async mergeSplit(recipe, count, extra) {
    await T.start(count);
    const started = performance.now();
    const files = T.files();
    const parts = await Promise.all(Array.from({length: count}, (_, i) =>
      T.request(Object.assign({type: "merge", recipe, files, part: {index: i, count}}, extra || {}), i)));
    const failed = parts.find((m) => m.type !== "done");
    if (failed) return T.summary(failed);
    const blob = new Blob(parts.map((m) => m.blob), {type: "application/octet-stream"});
    return T.summary({type: "done", blob, bytes: blob.size, seconds: (performance.now() - started) / 1000,
      parts: count, maxWasm: Math.max(...parts.map((m) => m.maxWasm || 0))});
  },

  // mergeAndCancel starts a merge and cancels it at its first progress message (or
  // after ms milliseconds).
  mergeAndCancel(recipe, ms) {
    const id = String(T.nextId++);
    const result = T.request({type: "merge", id, recipe, files: T.files()});
    const cancel = () => T.workers[0].postMessage({type: "cancel", id});
    if (ms) {
      setTimeout(cancel, ms);
    } else {
      const p = T.pending.get(id);
      const push = p.progress.push.bind(p.progress);
      let sent = false;
      p.progress.push = (m) => { if (!sent) { sent = true; cancel(); } return push(m); };
    }
    return result.then(T.summary);
  },

  // evaluateWhileBusy runs an evaluate request and, while it runs, keeps the worker
  // busy as a page does: a memory request every ms milliseconds, and a second
  // evaluate that is cancelled at its first progress message. It resolves with the
  // first evaluation's final message, the number of memory requests sent and
  // answered, and the second evaluation's final message type.
  async evaluateWhileBusy(spec, ms) {
    let finished = false;
    const first = T.request({type: "evaluate", files: T.files(), eval: spec}).then((m) => { finished = true; return m; });
    const id = String(T.nextId++);
    const second = T.request({type: "evaluate", id, files: T.files(), eval: spec});
    const p = T.pending.get(id);
    const push = p.progress.push.bind(p.progress);
    let cancelled = false;
    p.progress.push = (m) => {
      if (!cancelled) { cancelled = true; T.workers[0].postMessage({type: "cancel", id}); }
      return push(m);
    };
    const probes = [];
    while (!finished) {
      probes.push(T.request({type: "memory"}));
      await Promise.race([first, new Promise((r) => setTimeout(r, ms))]);
    }
    probes.push(T.request({type: "memory"}));
    const answers = await Promise.all(probes);
    const m = await first, s = await second;
    return Object.assign({}, m, {sent: probes.length, answered: answers.filter((a) => a.type === "memory").length,
      second: s.type, secondError: s.error || null});
  },

  read(files) { return T.request({type: "read", files: files || T.files()}); },

  async blobBase64() {
    const bytes = new Uint8Array(await T.lastBlob.arrayBuffer());
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  },

  async blobSHA256() {
    const digest = await crypto.subtle.digest("SHA-256", await T.lastBlob.arrayBuffer());
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  },

  // The responsiveness probe, on the page thread: the long tasks (tasks of 50 ms or
  // more, with their wall-clock duration), the gaps of a 10 ms timer and of frames,
  // and how long clicks on #ping wait before their handler runs. A long task is the
  // page's own work holding the thread; a timer gap with no long task in it is the
  // thread waiting for the OS to run it, which a loaded machine causes without the
  // page doing anything (see TestPageStaysResponsiveDuringMerge).
  probe: null,
  startProbe() {
    const p = T.probe = {maxTimerGap: 0, timerGaps: [], maxFrameGap: 0, frames: 0, ticks: 0, clicks: [], longTasks: [], running: true,
      started: performance.now()};
    if (typeof PerformanceObserver !== "undefined" && PerformanceObserver.supportedEntryTypes.includes("longtask")) {
      p.observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) p.longTasks.push({start: e.startTime - p.started, duration: e.duration, name: e.name});
      });
      p.observer.observe({type: "longtask"});
      p.longTaskAPI = true;
    }
    let lastTick = performance.now();
    p.timer = setInterval(() => {
      const now = performance.now();
      const gap = now - lastTick;
      p.maxTimerGap = Math.max(p.maxTimerGap, gap);
      if (gap > 50) p.timerGaps.push({start: lastTick - p.started, gap});
      lastTick = now;
      p.ticks++;
    }, 10);
    let lastFrame = null;
    const frame = (ts) => {
      if (!p.running) return;
      if (lastFrame !== null) p.maxFrameGap = Math.max(p.maxFrameGap, ts - lastFrame);
      lastFrame = ts;
      p.frames++;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    return true;
  },
  // block holds the page thread for ms milliseconds, as page code that does not yield
  // would (the probe's self-check).
  block(ms) {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* the page's own work */ }
    return true;
  },
  // busy keeps a worker busy for ms milliseconds, with the page thread as idle as
  // during a merge; resolves with {type: "done", seconds}.
  busy(ms) {
    return new Promise((resolve) => {
      const started = performance.now();
      const w = new Worker("busy.js");
      w.onmessage = () => { w.terminate(); resolve({type: "done", seconds: (performance.now() - started) / 1000}); };
      w.postMessage(ms);
    });
  },
  stopProbe() {
    const p = T.probe;
    p.running = false;
    clearInterval(p.timer);
    if (p.observer) {
      for (const e of p.observer.takeRecords()) p.longTasks.push({start: e.startTime - p.started, duration: e.duration, name: e.name});
      p.observer.disconnect();
    }
    return {maxTimerGap: p.maxTimerGap, timerGaps: p.timerGaps, maxFrameGap: p.maxFrameGap, frames: p.frames, ticks: p.ticks, clicks: p.clicks,
      longTasks: p.longTasks, longTaskAPI: !!p.longTaskAPI, seconds: (performance.now() - p.started) / 1000};
  },
};

document.getElementById("ping").addEventListener("click", (e) => {
  if (T.probe) T.probe.clicks.push(performance.now() - e.timeStamp);
  document.getElementById("log").textContent = "pong " + (T.probe ? T.probe.clicks.length : 0);
});

window.ladleTest = T;
