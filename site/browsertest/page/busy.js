// busy.js: a worker that keeps one core busy for the milliseconds it is sent, as an
// engine worker merging does, with nothing else (the responsiveness test's control).
"use strict";
onmessage = (e) => {
  const end = performance.now() + e.data;
  let n = 0;
  while (performance.now() < end) n++;
  postMessage({type: "done", spins: n});
};
