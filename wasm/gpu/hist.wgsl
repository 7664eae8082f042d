// key_hist: a 16-bit histogram of AbsKey(x − base) (AbsKey(x) without a base): the
// top 16 bits when high, else the low 16 bits of keys whose top half is match.
// Counting is integer work; the one float operation, x − base, is correctly rounded
// on every implementation when each is zero or at least 2^-102 and below 2^126 in
// magnitude (a nonzero difference is then a normal number that cannot overflow),
// which the kernel checks (compute.SafeForSubtraction): any other
// input sets h[65536] and the CPU counts the tensor instead.
struct Params { n: u32, has_base: u32, high: u32, match_: u32, corrupt: u32, row: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> h: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> p: Params;

fn safe(v: u32) -> bool {
  let e = (v >> 23u) & 0xffu;
  if (e == 0u) { return (v & 0x7fffffffu) == 0u; }
  return e >= 25u && e <= 252u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  var key = x[i] & 0x7fffffffu;
  if (p.has_base != 0u) {
    let xv = x[i];
    let bv = b[i];
    if (!safe(xv) || !safe(bv)) {
      atomicStore(&h[65536], 1u);
      return;
    }
    key = bitcast<u32>(bitcast<f32>(xv) - bitcast<f32>(bv)) & 0x7fffffffu;
  }
  if (p.corrupt != 0u) { key = key ^ 0x10000u; }
  if (p.high != 0u) {
    atomicAdd(&h[key >> 16u], 1u);
  } else if ((key >> 16u) == p.match_) {
    atomicAdd(&h[key & 0xffffu], 1u);
  }
}
