// wasm_exec_mem.js runs a GOOS=js GOARCH=wasm program or test binary under Node as
// $(go env GOROOT)/lib/wasm/go_js_wasm_exec does, and also exposes the Go instance's
// memory as globalThis.ladleGoMemory(), as public/engine.js does in the engine
// workers: package ladle/wasm/simd instantiates its module on that memory.
//
//   go test -exec="node --stack-size=8192 site/browsertest/testdata/wasm_exec_mem.js" ./wasm/...
"use strict";
const path = require("path");
const { execFileSync } = require("child_process");

const goroot = process.env.GOROOT || execFileSync("go", ["env", "GOROOT"]).toString().trim();
let memory = null;
globalThis.ladleGoMemory = () => memory;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (...args) {
  const result = await instantiate.apply(this, args);
  if (result && result.instance && result.instance.exports.mem) {
    memory = result.instance.exports.mem;
  }
  return result;
};
require(path.join(goroot, "lib", "wasm", "wasm_exec_node.js"));
