//go:build js && wasm

package gpu

import (
	"math"
	"math/bits"
	"strings"
	"syscall/js"
	"unsafe"

	"ladle/core/compute"
)

func (d *Device) corrupt(kernel string) uint32 {
	if d.Corrupt == kernel {
		return 1
	}
	return 0
}

// usable reports whether the device may run a kernel now (not lost).
func (d *Device) usable() bool { return d.Lost() == nil && d.dev.Type() == js.TypeObject }

// UnitSum implements compute.Merger: the exact kernel on the GPU, then the CPU for
// the elements it flags.
func (d *Device) UnitSum(out []float32, xs [][]float32, div, mul float64) bool {
	dv, me, ok := compute.ExactUnitSumMode(div, mul)
	if !ok || len(xs) == 0 || len(xs) > 1<<16 || len(out) == 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.usable() {
		return false
	}
	// The kernel's bits land in out's own memory; fixFlagged then rewrites the
	// flagged elements in place (each reads only its own element first).
	raw := unsafe.Slice((*uint32)(unsafe.Pointer(&out[0])), len(out))
	if err := d.unitSumRaw(raw, xs, dv, me); err != nil {
		d.setLost(err)
		return false
	}
	flagged := fixFlagged(out, raw, xs, div, mul)
	d.count(func(s *Stats) { s.UnitSums++; s.Elements += int64(len(out)); s.Flagged += int64(flagged) })
	return true
}

// fixFlagged copies the kernel's bits into out and computes the flagged elements on
// the CPU; it returns how many it computed.
func fixFlagged(out []float32, raw []uint32, xs [][]float32, div, mul float64) int {
	n := 0
	one := make([][]float32, len(xs))
	for c, v := range raw {
		if v != flag {
			out[c] = math.Float32frombits(v)
			continue
		}
		n++
		for i, x := range xs {
			one[i] = x[c : c+1]
		}
		compute.UnitSumRef(out[c:c+1], one, div, mul)
	}
	return n
}

// unitSumRaw runs the unit-sum shader over the whole tensor in chunks that fit one
// binding, two chunks in flight: chunk k+1 uploads and runs while chunk k reads back.
func (d *Device) unitSumRaw(raw []uint32, xs [][]float32, dv uint32, mulExp int32) error {
	pipe, err := d.pipeline("unit_sum", unitSumWGSL, "main")
	if err != nil {
		return err
	}
	n, models := len(raw), len(xs)
	chunk := int(min(int64(n), d.maxBind/int64(4*models)))
	chunk = max(chunk, 1)
	carries := uint32(bits.Len32(uint32(models - 1)))
	type flight struct {
		slot, lo, hi int
	}
	var prev *flight
	finish := func(f *flight) error {
		st := d.bufs[slotName("us.st", f.slot)].b
		return d.read(st, u32Bytes(raw[f.lo:f.hi]))
	}
	queue := d.dev.Get("queue")
	for k, lo := 0, 0; lo < n; k, lo = k+1, lo+chunk {
		slot := k % 2
		hi := min(lo+chunk, n)
		m := hi - lo
		in := d.buffer(slotName("us.in", slot), int64(4*m*models), usStorage|usCopyDst)
		out := d.buffer(slotName("us.out", slot), int64(4*m), usStorage|usCopySrc)
		st := d.buffer(slotName("us.st", slot), int64(4*m), usMapRead|usCopyDst)
		prm := d.buffer(slotName("us.p", slot), 32, usUniform|usCopyDst)
		for i, x := range xs {
			d.write(in, int64(4*m*i), f32Bytes(x[lo:hi]))
		}
		d.write(prm, 0, u32sBytes(uint32(m), uint32(models), dv, uint32(mulExp), carries, d.corrupt("unit_sum"), uint32(m), rowFor(m)))
		enc := d.dev.Call("createCommandEncoder")
		pass := enc.Call("beginComputePass")
		pass.Call("setPipeline", pipe)
		pass.Call("setBindGroup", 0, bindGroup(d, pipe, in, out, prm))
		dispatch(pass, m)
		pass.Call("end")
		enc.Call("copyBufferToBuffer", out, 0, st, 0, 4*m)
		queue.Call("submit", []any{enc.Call("finish")})
		if prev != nil {
			if err := finish(prev); err != nil {
				return err
			}
		}
		prev = &flight{slot, lo, hi}
	}
	return finish(prev)
}

func slotName(s string, slot int) string { return s + string(rune('0'+slot)) }

// KeyHistogram implements compute.Merger: the counts are integers, the subtraction
// is checked safe per element by the shader (else the CPU counts the tensor).
func (d *Device) KeyHistogram(h *compute.Hist16, x, base []float32, high bool, match uint32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.usable() || len(x) == 0 {
		return false
	}
	var acc compute.Hist16
	ok, err := d.keyHist(&acc, x, base, high, match)
	if err != nil {
		d.setLost(err)
		return false
	}
	if !ok {
		d.count(func(s *Stats) { s.Declined++ })
		return false
	}
	d.count(func(s *Stats) { s.Histograms++ })
	for i, v := range acc {
		h[i] += v
	}
	return true
}

func (d *Device) keyHist(acc *compute.Hist16, x, base []float32, high bool, match uint32) (bool, error) {
	pipe, err := d.pipeline("key_hist", histWGSL, "main")
	if err != nil {
		return false, err
	}
	per := 1
	if base != nil {
		per = 2
	}
	chunk := max(1, int(min(int64(len(x)), d.maxBind/int64(4*per))))
	counts := make([]uint32, 65537)
	queue := d.dev.Get("queue")
	for lo := 0; lo < len(x); lo += chunk {
		hi := min(lo+chunk, len(x))
		m := hi - lo
		xb := d.buffer("kh.x", int64(4*m), usStorage|usCopyDst)
		bb := d.buffer("kh.b", 16, usStorage|usCopyDst)
		hasBase := uint32(0)
		if base != nil {
			bb = d.buffer("kh.b", int64(4*m), usStorage|usCopyDst)
			d.write(bb, 0, f32Bytes(base[lo:hi]))
			hasBase = 1
		}
		hb := d.buffer("kh.h", 4*65537, usStorage|usCopySrc|usCopyDst)
		st := d.buffer("kh.st", 4*65537, usMapRead|usCopyDst)
		prm := d.buffer("kh.p", 32, usUniform|usCopyDst)
		d.write(xb, 0, f32Bytes(x[lo:hi]))
		var hi32 uint32
		if high {
			hi32 = 1
		}
		d.write(prm, 0, u32sBytes(uint32(m), hasBase, hi32, match, d.corrupt("key_hist"), rowFor(m), 0, 0))
		enc := d.dev.Call("createCommandEncoder")
		enc.Call("clearBuffer", hb, 0, 4*65540)
		pass := enc.Call("beginComputePass")
		pass.Call("setPipeline", pipe)
		pass.Call("setBindGroup", 0, bindGroup(d, pipe, xb, bb, hb, prm))
		dispatch(pass, m)
		pass.Call("end")
		enc.Call("copyBufferToBuffer", hb, 0, st, 0, 4*65537)
		queue.Call("submit", []any{enc.Call("finish")})
		if err := d.read(st, u32Bytes(counts)); err != nil {
			return false, err
		}
		if counts[65536] != 0 {
			return false, nil
		}
		for i, c := range counts[:65536] {
			acc[i] += uint64(c)
		}
	}
	return true, nil
}

// Linear implements compute.Forwarder.
func (d *Device) Linear(y, x, w, bias []float32, n, in, out int, relu bool) bool {
	prm := forwardParams{n: n, relu: relu, hasBias: bias != nil, in: in, out: out}
	return d.forward("linear", y, x, w, bias, n*out, prm)
}

// LinearHead implements compute.LinearHeader: the linear pass with the batchnorm
// after it (scale and shift travel after the bias, as conv4's) and the relu after
// that, then, in a second pass of the same submission, log_softmax over each sample's
// outputs, so that only the log-probabilities come back.
func (d *Device) LinearHead(y, x, w, bias []float32, n, in, out int, relu bool, h compute.Head) bool {
	prm := forwardParams{n: n, relu: relu, hasBias: bias != nil, in: in, out: out,
		affine: h.Scale != nil, reluAfter: h.Scale != nil && h.ReLU, logSoftmax: h.LogSoftmax}
	if h.Scale != nil {
		bias = affineAfter(bias, h.Scale, h.Shift, out)
	}
	return d.forward("linear", y, x, w, bias, n*out, prm)
}

// affineAfter returns bias (zeros when nil), then scale, then shift: the layout in
// which the shaders read a fused batchnorm.
func affineAfter(bias, scale, shift []float32, out int) []float32 {
	post := make([]float32, 3*out)
	copy(post, bias)
	copy(post[out:], scale)
	copy(post[2*out:], shift)
	return post
}

// LinearAct implements compute.Activator: the linear pass with gelu, tanh or sigmoid
// applied to each output after the bias (compute.ActF32's algorithm).
func (d *Device) LinearAct(y, x, w, bias []float32, n, in, out int, act compute.Act) bool {
	prm := forwardParams{n: n, hasBias: bias != nil, in: in, out: out, act: act}
	return d.forward("linear", y, x, w, bias, n*out, prm)
}

// Conv2DAct implements compute.Activator for convolutions.
func (d *Device) Conv2DAct(y, x, w, bias []float32, n int, g compute.ConvGeom, act compute.Act) bool {
	return d.conv(y, x, w, bias, n, g, false, nil, nil, false, act)
}

// Conv2D implements compute.Forwarder: four output channels per invocation, the
// weights repacked as [C][KH][KW][OC/4] vec4s.
func (d *Device) Conv2D(y, x, w, bias []float32, n int, g compute.ConvGeom, relu bool) bool {
	return d.conv(y, x, w, bias, n, g, relu, nil, nil, false, 0)
}

// Conv2DAffine implements compute.ConvAffiner: Conv2D with the following batchnorm,
// and the relu after it when reluAfter, applied in the same pass (scale and shift
// travel after the bias).
func (d *Device) Conv2DAffine(y, x, w, bias []float32, n int, g compute.ConvGeom, relu bool, scale, shift []float32, reluAfter bool) bool {
	return d.conv(y, x, w, bias, n, g, relu, scale, shift, reluAfter, 0)
}

func (d *Device) conv(y, x, w, bias []float32, n int, g compute.ConvGeom, relu bool, scale, shift []float32, reluAfter bool, act compute.Act) bool {
	prm := forwardParams{n: n, relu: relu, hasBias: bias != nil, g: g, affine: scale != nil, reluAfter: scale != nil && reluAfter, act: act}
	oc4 := (g.OC + 3) / 4
	packed := make([]float32, g.C*g.KH*g.KW*oc4*4)
	for o := range g.OC {
		for c := range g.C {
			for ky := range g.KH {
				for kx := range g.KW {
					packed[((c*g.KH+ky)*g.KW+kx)*oc4*4+o] = w[((o*g.C+c)*g.KH+ky)*g.KW+kx]
				}
			}
		}
	}
	if scale != nil {
		bias = affineAfter(bias, scale, shift, g.OC)
	}
	return d.forward("conv4", y, x, packed, bias, n*oc4*g.OH*g.OW, prm)
}

type forwardParams struct {
	n                     int
	relu, hasBias, affine bool
	reluAfter             bool        // a relu after the affine map (affine mode 2)
	logSoftmax            bool        // then log_softmax over each sample's out outputs
	act                   compute.Act // gelu, tanh or sigmoid after the bias (not with relu)
	g                     compute.ConvGeom
	in, out               int
}

// affineMode is the shaders' affine parameter: 0 none, 1 the affine map, 2 the affine map
// then a relu.
func (p forwardParams) affineMode() uint32 {
	switch {
	case p.affine && p.reluAfter:
		return 2
	case p.affine:
		return 1
	}
	return 0
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func (d *Device) forward(entry string, y, x, w, bias []float32, count int, p forwardParams) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.usable() || count == 0 || p.n == 0 {
		return false
	}
	// NaN and infinities go to the CPU: GPUs need not propagate them as IEEE says
	// (SwiftShader turns x·NaN into 0 in a sum, and max(NaN, 0) into 0).
	if !allFinite(x) || !allFinite(w) || !allFinite(bias) {
		return false
	}
	// The weights are bound whole; the samples go in chunks under the binding limit.
	perX, perY, perCount := len(x)/p.n, len(y)/p.n, count/p.n
	limit := int(d.maxBind / 4)
	if len(w) > limit || len(bias) > limit || perX > limit || perY > limit {
		return false
	}
	chunk := min(p.n, limit/max(perX, 1), limit/max(perY, 1))
	code, module := actWGSL+forwardWGSL, "forward"
	if entry == "conv4" {
		code, module = actWGSL+conv4WGSL, "conv4"
	}
	pipe, err := d.pipeline(module, code, entry)
	if err != nil {
		d.setLost(err)
		return false
	}
	var lsm js.Value
	if p.logSoftmax {
		if lsm, err = d.pipeline(module, code, "log_softmax"); err != nil {
			d.setLost(err)
			return false
		}
	}
	wb := d.buffer("fw.w", int64(4*len(w)), usStorage|usCopyDst)
	bb := d.buffer("fw.b", int64(4*max(len(bias), 1)), usStorage|usCopyDst)
	d.write(wb, 0, f32Bytes(w))
	d.write(bb, 0, f32Bytes(bias))
	for lo := 0; lo < p.n; lo += chunk {
		hi := min(lo+chunk, p.n)
		q := p
		q.n = hi - lo
		if err := d.forwardChunk(entry, pipe, lsm, y[lo*perY:hi*perY], x[lo*perX:hi*perX], wb, bb, q.n*perCount, q); err != nil {
			d.setLost(err)
			return false
		}
	}
	if !allFinite(y) { // an overflow: let the CPU say what it gives
		return false
	}
	d.count(func(s *Stats) {
		s.Forward++
		s.ForwardChunks += (p.n + chunk - 1) / chunk
		if p.logSoftmax {
			s.LogSoftmax++
		}
		if p.act != 0 {
			s.Activations++
		}
	})
	return true
}

// forwardChunk runs one submission of a forward kernel over q.n samples (the
// weights and bias already in wb and bb) and reads y back.
func (d *Device) forwardChunk(entry string, pipe, lsm js.Value, y, x []float32, wb, bb js.Value, count int, p forwardParams) error {
	xb := d.buffer("fw.x", int64(4*len(x)), usStorage|usCopyDst)
	yb := d.buffer("fw.y", int64(4*len(y)), usStorage|usCopySrc)
	st := d.buffer("fw.st", int64(4*len(y)), usMapRead|usCopyDst)
	pb := d.buffer("fw.p", 96, usUniform|usCopyDst)
	d.write(xb, 0, f32Bytes(x))
	g := p.g
	// The test hooks: ?gpucorrupt=conv corrupts every convolution, conv_bn_relu only
	// those with a relu after their batchnorm.
	corrupt := d.corrupt(strings.TrimSuffix(entry, "4"))
	if p.reluAfter {
		corrupt |= d.corrupt("conv_bn_relu")
	}
	if p.act != 0 {
		corrupt |= d.corrupt("act")
	}
	d.write(pb, 0, u32sBytes(uint32(p.n), b2u(p.relu), b2u(p.hasBias), rowFor(count),
		uint32(g.C), uint32(g.H), uint32(g.W), uint32(g.OC),
		uint32(g.KH), uint32(g.KW), uint32(g.SH), uint32(g.SW),
		uint32(g.PH), uint32(g.PW), uint32(g.OH), uint32(g.OW),
		uint32(p.in), uint32(p.out), corrupt, p.affineMode(),
		rowFor(p.n), d.corrupt("log_softmax"), uint32(p.act), 0))
	enc := d.dev.Call("createCommandEncoder")
	pass := enc.Call("beginComputePass")
	pass.Call("setPipeline", pipe)
	pass.Call("setBindGroup", 0, bindGroup(d, pipe, xb, wb, bb, yb, pb))
	dispatch(pass, count)
	pass.Call("end")
	if p.logSoftmax {
		// one invocation per sample, over the outputs the pass above wrote (passes in
		// one submission run in order, each seeing the writes before it)
		pass := enc.Call("beginComputePass")
		pass.Call("setPipeline", lsm)
		pass.Call("setBindGroup", 0, bindGroupAt(d, lsm, map[int]js.Value{3: yb, 4: pb}))
		dispatch(pass, p.n)
		pass.Call("end")
	}
	enc.Call("copyBufferToBuffer", yb, 0, st, 0, 4*len(y))
	d.dev.Get("queue").Call("submit", []any{enc.Call("finish")})
	return d.read(st, f32Bytes(y))
}

// allFinite reports whether x holds no NaN and no infinity.
func allFinite(x []float32) bool {
	for _, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return false
		}
	}
	return true
}
