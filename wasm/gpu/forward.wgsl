// (compute.ActWGSL's act() is prepended.)
// The linear layers of an inference pass (convolutions: conv4.wgsl), in float32 (sums may be ordered otherwise
// than the CPU's; evaluation tolerates that, merges never use these), and the head a classifier ends with.
// With affine (1 or 2), each output o is then mapped to v·scale[o] + shift[o] (the batchnorm after the layer, in
// eval mode), scale and shift stored after the bias; with affine 2, then to max(·, 0) (the relu after it).
struct Params {
  n: u32, relu: u32, has_bias: u32, row: u32,
  c: u32, h: u32, w: u32, oc: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, oh: u32, ow: u32,
  in_f: u32, out_f: u32, corrupt: u32, affine: u32,
  srow: u32, scorrupt: u32, act: u32, p3: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

fn finish(a: f32, o: u32) -> f32 {
  var v = a;
  if (p.has_bias != 0u) { v = v + bias[o]; }
  if (p.relu != 0u) { v = max(v, 0.0); }
  if (p.act != 0u) { v = act(v, p.act); } // gelu, tanh, sigmoid (act.wgsl, from compute.ActWGSL)
  if (p.affine != 0u) { v = v * bias[p.out_f + o] + bias[2u * p.out_f + o]; }
  if (p.affine == 2u) { v = select(0.0, v, v > 0.0); } // -0 becomes +0, as on the CPU
  if (p.corrupt != 0u) { v = v + 1.0; }
  return v;
}

@compute @workgroup_size(64)
fn linear(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n * p.out_f) { return; }
  let s = i / p.out_f;
  let o = i % p.out_f;
  var a = 0.0;
  let xs = s * p.in_f;
  let ws = o * p.in_f;
  for (var k = 0u; k < p.in_f; k = k + 1u) {
    a = a + x[xs + k] * wt[ws + k];
  }
  y[i] = finish(a, o);
}

// log1p(t) for t >= 0 without forming 1 + t where that loses t's bits: for t <= 1,
// 2·atanh(z) = 2·(z + z³/3 + … + z¹⁵/15) with z = t/(2 + t) <= 1/3; above, log(1 + t),
// where WGSL's log keeps its 3 ulps (its 2^-21 absolute error applies in [0.5, 2]).
// compute.Log1pF32 is this function in Go, and its tests bound its error.
fn log1p(t: f32) -> f32 {
  if (t > 1.0) { return log(1.0 + t); }
  let z = t / (2.0 + t);
  let z2 = z * z;
  var s = 2.0 / 15.0;
  s = s * z2 + 2.0 / 13.0;
  s = s * z2 + 2.0 / 11.0;
  s = s * z2 + 2.0 / 9.0;
  s = s * z2 + 2.0 / 7.0;
  s = s * z2 + 2.0 / 5.0;
  s = s * z2 + 2.0 / 3.0;
  s = s * z2 + 2.0;
  return z * s;
}

// log_softmax over each sample's out_f outputs in y, in place, one invocation per
// sample (compute.LogSoftmaxF32 is this function in Go): m the first largest,
// t = Σ_{c≠m} exp(y[c] − y[m]), y[c] ← (y[c] − y[m]) − log1p(t), so that a sample's loss
// −y[label] = (y[m] − y[label]) + log1p(t) is a sum of non-negative terms, with no cancellation.
@compute @workgroup_size(64)
fn log_softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = gid.y * p.srow + gid.x;
  if (s >= p.n) { return; }
  let lo = s * p.out_f;
  let hi = lo + p.out_f;
  var m = lo;
  for (var i = lo + 1u; i < hi; i = i + 1u) {
    if (y[i] > y[m]) { m = i; }
  }
  let mx = y[m];
  var t = 0.0;
  for (var i = lo; i < hi; i = i + 1u) {
    if (i != m) { t = t + exp(y[i] - mx); }
  }
  let l = log1p(t);
  for (var i = lo; i < hi; i = i + 1u) {
    var v = (y[i] - mx) - l;
    if (p.scorrupt != 0u) { v = v * 0.5; }
    y[i] = v;
  }
}
