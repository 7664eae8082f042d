//go:build js && wasm

package simd

import "math"

// A minimal WebAssembly encoder: just what the product's module needs (one memory
// import, i32 and v128 locals, structured control flow, loads and stores, and the
// handful of scalar and SIMD instructions below). Opcodes are the binary format's
// (WebAssembly 2.0, section 5.4; SIMD: the 0xFD prefix).

const (
	tI32  = 0x7f
	tF32  = 0x7d
	tV128 = 0x7b
)

// code is a function body under construction.
type code struct{ b []byte }

func (c *code) op(b ...byte) *code { c.b = append(c.b, b...); return c }

// uleb appends v as an unsigned LEB128.
func uleb(b []byte, v uint32) []byte {
	for {
		x := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, x)
		}
		b = append(b, x|0x80)
	}
}

// sleb appends v as a signed LEB128.
func sleb(b []byte, v int32) []byte {
	for {
		x := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && x&0x40 == 0) || (v == -1 && x&0x40 != 0) {
			return append(b, x)
		}
		b = append(b, x|0x80)
	}
}

func (c *code) get(l uint32) *code  { c.b = uleb(append(c.b, 0x20), l); return c }
func (c *code) set(l uint32) *code  { c.b = uleb(append(c.b, 0x21), l); return c }
func (c *code) i32(v int32) *code   { c.b = sleb(append(c.b, 0x41), v); return c }
func (c *code) block() *code        { return c.op(0x02, 0x40) }
func (c *code) loop() *code         { return c.op(0x03, 0x40) }
func (c *code) ifThen() *code       { return c.op(0x04, 0x40) }
func (c *code) els() *code          { return c.op(0x05) }
func (c *code) end() *code          { return c.op(0x0b) }
func (c *code) br(d uint32) *code   { c.b = uleb(append(c.b, 0x0c), d); return c }
func (c *code) brIf(d uint32) *code { c.b = uleb(append(c.b, 0x0d), d); return c }

func (c *code) add() *code  { return c.op(0x6a) } // i32.add
func (c *code) mul() *code  { return c.op(0x6c) } // i32.mul
func (c *code) sub() *code  { return c.op(0x6b) } // i32.sub
func (c *code) geS() *code  { return c.op(0x4e) } // i32.ge_s
func (c *code) ltS() *code  { return c.op(0x48) } // i32.lt_s
func (c *code) eqz() *code  { return c.op(0x45) } // i32.eqz
func (c *code) shl2() *code { return c.i32(2).op(0x74) }

// i32load and f32load read with a byte offset (alignment hint 4 bytes).
func (c *code) i32load(off uint32) *code { c.b = uleb(append(c.b, 0x28, 2), off); return c }
func (c *code) f32load(off uint32) *code { c.b = uleb(append(c.b, 0x2a, 2), off); return c }
func (c *code) f32(v float32) *code {
	u := math.Float32bits(v)
	return c.op(0x43, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}

// SIMD instructions: 0xFD, then the opcode as an unsigned LEB128.
func (c *code) simd(op uint32) *code { c.b = uleb(append(c.b, 0xfd), op); return c }
func (c *code) v128load(off uint32) *code {
	c.simd(0x00)
	c.b = uleb(append(c.b, 2), off) // alignment hint 4 bytes: rows need not be 16-aligned
	return c
}

// load32splat reads one float32 into every lane (v128.load32_splat).
func (c *code) load32splat(off uint32) *code {
	c.simd(0x09)
	c.b = uleb(append(c.b, 2), off)
	return c
}
func (c *code) v128store(off uint32) *code {
	c.simd(0x0b)
	c.b = uleb(append(c.b, 2), off)
	return c
}
func (c *code) v128zero() *code {
	c.simd(0x0c)
	c.b = append(c.b, make([]byte, 16)...)
	return c
}
func (c *code) f32x4splat() *code { return c.simd(0x13) }
func (c *code) f32x4add() *code   { return c.simd(0xe4) }
func (c *code) f32x4mul() *code   { return c.simd(0xe6) }
func (c *code) f32x4gt() *code    { return c.simd(0x44) }
func (c *code) f32x4ne() *code    { return c.simd(0x42) }
func (c *code) v128or() *code     { return c.simd(0x50) }
func (c *code) bitselect() *code  { return c.simd(0x52) }

// module assembles a module that imports its memory as env.mem and exports one
// function, name, of the given i32 parameters (no results) and locals.
func module(name string, params int, locals []byte, body *code) []byte {
	vec := func(b []byte, n int) []byte { return uleb(b, uint32(n)) }
	str := func(b []byte, s string) []byte { return append(vec(b, len(s)), s...) }
	section := func(out []byte, id byte, content []byte) []byte {
		return append(uleb(append(out, id), uint32(len(content))), content...)
	}
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	// type 0: (i32 × params) → ()
	typ := vec(nil, 1)
	typ = vec(append(typ, 0x60), params)
	for range params {
		typ = append(typ, tI32)
	}
	typ = vec(typ, 0)
	out = section(out, 1, typ)
	// import env.mem: a memory of at least 0 pages, no maximum
	imp := vec(nil, 1)
	imp = str(str(imp, "env"), "mem")
	imp = append(imp, 0x02, 0x00, 0x00)
	out = section(out, 2, imp)
	out = section(out, 3, vec(vec(nil, 1), 0)) // function 0 has type 0
	exp := str(vec(nil, 1), name)
	exp = append(exp, 0x00, 0x00) // a function, index 0
	out = section(out, 7, exp)
	// the body: local declarations (one entry per local), the code, end
	fn := vec(nil, len(locals))
	for _, t := range locals {
		fn = append(vec(fn, 1), t)
	}
	fn = append(append(fn, body.b...), 0x0b)
	cod := uleb(vec(nil, 1), uint32(len(fn)))
	cod = append(cod, fn...)
	return section(out, 10, cod)
}
