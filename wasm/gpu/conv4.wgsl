// (compute.ActWGSL's act() is prepended.)
// conv4: a 2-D convolution where each invocation computes four output channels at one
// position: one input load feeds four multiply-adds (weights packed on the CPU as
// vec4s over output channels, [C][KH][KW][OC/4]). Sums run in (c, ky, kx) order, in
// float32. With affine (1 or 2), each output channel is then mapped to
// v·scale[o] + shift[o] (a following batchnorm in eval mode), scale and shift stored
// after the bias; with affine 2, then to max(·, 0) (the relu after that batchnorm).
struct Params {
  n: u32, relu: u32, has_bias: u32, row: u32,
  c: u32, h: u32, w: u32, oc: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, oh: u32, ow: u32,
  in_f: u32, out_f: u32, corrupt: u32, affine: u32,
  srow: u32, scorrupt: u32, act: u32, p3: u32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn conv4(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  let oc4 = (p.oc + 3u) / 4u;
  let plane = p.oh * p.ow;
  let per = oc4 * plane;
  if (i >= p.n * per) { return; }
  let s = i / per;
  let r = i % per;
  let o4 = r / plane;
  let oy = (r % plane) / p.ow;
  let ox = r % p.ow;
  var a = vec4<f32>(0.0, 0.0, 0.0, 0.0);
  let xs = s * p.c * p.h * p.w;
  for (var c = 0u; c < p.c; c = c + 1u) {
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
      let iy = i32(oy * p.sh + ky) - i32(p.ph);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      let xrow = xs + (c * p.h + u32(iy)) * p.w;
      let wrow = ((c * p.kh + ky) * p.kw) * oc4 + o4;
      for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
        let ix = i32(ox * p.sw + kx) - i32(p.pw);
        if (ix < 0 || ix >= i32(p.w)) { continue; }
        a = a + x[xrow + u32(ix)] * w4[wrow + kx * oc4];
      }
    }
  }
  for (var j = 0u; j < 4u; j = j + 1u) {
    let o = o4 * 4u + j;
    if (o >= p.oc) { break; }
    var v = a[j];
    if (p.has_bias != 0u) { v = v + bias[o]; }
    if (p.relu != 0u) { v = max(v, 0.0); }
    if (p.act != 0u) { v = act(v, p.act); } // gelu, tanh, sigmoid (compute.ActWGSL)
    if (p.affine != 0u) { v = v * bias[p.oc + o] + bias[2u * p.oc + o]; }
    if (p.affine == 2u) { v = select(0.0, v, v > 0.0); } // -0 becomes +0, as on the CPU
    if (p.corrupt != 0u) { v = v + 1.0; }
    y[((s * p.oc + o) * p.oh + oy) * p.ow + ox] = v;
  }
}
