// app.js: starts the page program (app.wasm, package ladle/wasm/app), which mounts the
// playground's UI into <div id="ladle-app">. The merging itself runs in the engine
// worker (engine.js), never on this thread.
"use strict";
(async () => {
  const status = document.getElementById("ladle-boot");
  const go = new Go();
  try {
    const result = await WebAssembly.instantiateStreaming(fetch("app.wasm"), go.importObject);
    if (status) status.remove();
    await go.run(result.instance);
  } catch (err) {
    if (status) status.textContent = "The playground could not start: " + err.message;
  }
})();
