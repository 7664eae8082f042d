// The linear layers of an inference pass (convolutions: conv4.wgsl), in float32 (sums may be ordered otherwise
// than the CPU's; evaluation tolerates that, merges never use these).
struct Params {
  n: u32, relu: u32, has_bias: u32, row: u32,
  c: u32, h: u32, w: u32, oc: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, oh: u32, ow: u32,
  in_f: u32, out_f: u32, corrupt: u32, p3: u32,
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
