//go:build js && wasm

package gpu

import (
	_ "embed"
	"math"
	"math/bits"

	"ladle/core/compute"
	"ladle/core/tensor"
)

//go:embed ties.wgsl
var tiesWGSL string

// TiesSums implements compute.Merger: TIES' sign election and disjoint sums of models
// weighted 1, exact (integer sums of the float32 deltas), or flagged for the CPU.
func (d *Device) TiesSums(mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	return d.deltaSums(false, mixed, count, xs, base, keep, lo)
}

// TaskSums implements compute.Merger: the task-vector sum of models weighted 1, exact
// (the same kernel's integer sums), or flagged for the CPU.
func (d *Device) TaskSums(sum []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	return d.deltaSums(true, sum, count, xs, base, keep, lo)
}

func (d *Device) deltaSums(task bool, mixed []float64, count []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int) bool {
	n := len(mixed)
	if len(xs) == 0 || len(xs) > 1<<16 || n == 0 || int64(lo)+int64(n) >= math.MaxUint32 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.usable() {
		return false
	}
	raw := make([]uint32, 4*n)
	if err := d.tiesRaw(raw, xs, base, keep, lo, task); err != nil {
		d.setLost(err)
		return false
	}
	flagged := decodeTies(mixed, count, raw)
	d.count(func(s *Stats) {
		if task {
			s.TaskSums++
		} else {
			s.Ties++
		}
		s.TiesElements += int64(n)
		s.TiesFlagged += int64(flagged)
	})
	return true
}

// decodeTies turns the kernel's (M.hi, M.lo, minLow, count) into mixed = M·2^minLow
// (exact: |M| < 2^53) and count; it returns how many elements were flagged.
func decodeTies(mixed []float64, count []uint32, raw []uint32) int {
	flagged := 0
	for c := range mixed {
		r := raw[4*c : 4*c+4]
		count[c] = r[3]
		if r[3] == compute.TiesFlag {
			mixed[c] = 0
			flagged++
			continue
		}
		m := int64(uint64(r[0])<<32 | uint64(r[1]))
		mixed[c] = math.Ldexp(float64(m), int(int32(r[2])))
	}
	return flagged
}

// tiesBounds packs the keep bounds as (key, last index + 1), clamped to u32.
func tiesBounds(keep []tensor.Bound) []uint32 {
	out := make([]uint32, 2*len(keep))
	for i, b := range keep {
		out[2*i] = b.Key
		out[2*i+1] = uint32(max(0, min(b.Last, math.MaxUint32-1)+1))
	}
	return out
}

// tiesRaw runs the ties_sums shader over the elements in chunks that fit one binding.
func (d *Device) tiesRaw(raw []uint32, xs [][]float32, base []float32, keep []tensor.Bound, lo int, task bool) error {
	pipe, err := d.pipeline("ties_sums", tiesWGSL, "main")
	if err != nil {
		return err
	}
	n, models := len(base), len(xs)
	chunk := int(min(int64(n), d.maxBind/int64(4*models), d.maxBind/16))
	chunk = max(chunk, 1)
	carries := uint32(bits.Len32(uint32(models - 1)))
	queue := d.dev.Get("queue")
	kb := d.buffer("ts.k", int64(8*models), usStorage|usCopyDst)
	d.write(kb, 0, u32Bytes(tiesBounds(keep)))
	for c0 := 0; c0 < n; c0 += chunk {
		c1 := min(c0+chunk, n)
		m := c1 - c0
		in := d.buffer("ts.x", int64(4*m*models), usStorage|usCopyDst)
		bb := d.buffer("ts.b", int64(4*m), usStorage|usCopyDst)
		out := d.buffer("ts.o", int64(16*m), usStorage|usCopySrc)
		st := d.buffer("ts.st", int64(16*m), usMapRead|usCopyDst)
		prm := d.buffer("ts.p", 32, usUniform|usCopyDst)
		for i, x := range xs {
			d.write(in, int64(4*m*i), f32Bytes(x[c0:c1]))
		}
		d.write(bb, 0, f32Bytes(base[c0:c1]))
		d.write(prm, 0, u32sBytes(uint32(m), uint32(models), carries, d.corrupt("ties"), uint32(m), rowFor(m), uint32(lo+c0), b2u(task)))
		enc := d.dev.Call("createCommandEncoder")
		pass := enc.Call("beginComputePass")
		pass.Call("setPipeline", pipe)
		pass.Call("setBindGroup", 0, bindGroup(d, pipe, in, bb, kb, out, prm))
		dispatch(pass, m)
		pass.Call("end")
		enc.Call("copyBufferToBuffer", out, 0, st, 0, 16*m)
		queue.Call("submit", []any{enc.Call("finish")})
		if err := d.read(st, u32Bytes(raw[4*c0:4*c1])); err != nil {
			return err
		}
	}
	return nil
}
