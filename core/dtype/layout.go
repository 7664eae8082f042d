package dtype

import (
	"encoding/binary"
	"sync"
	"unsafe"
)

// hostLittle reports whether the host stores words little-endian, as safetensors
// does. It is true on every platform Ladle ships for (amd64, arm64, wasm), and
// then rows are reinterpreted in place instead of being assembled byte by byte;
// the compiler does not merge byte loads on wasm, so this matters there most.
// A variable rather than a constant so that tests can force the portable path.
var hostLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// word is the unsigned integer of each encoded element size above one byte.
type word interface{ uint16 | uint32 | uint64 }

// stage is the number of words staged per step when a row cannot be viewed in
// place: large enough to amortise the per-piece call, small enough to stay in
// the first-level cache.
const stage = 1024

// stagePool recycles staging buffers. A buffer handed to a callback escapes,
// so a stack array would cost a heap allocation on every call.
var stagePool = sync.Pool{New: func() any { return new([stage]uint64) }}

// getStage returns a pooled buffer as stage words of type W; an array of
// uint64 is aligned for every word type.
func getStage[W word]() (*[stage]uint64, []W) {
	p := stagePool.Get().(*[stage]uint64)
	return p, unsafe.Slice((*W)(unsafe.Pointer(p)), stage)
}

// view returns b as a slice of little-endian words when that is possible
// without copying: a little-endian host and b aligned for W. Rows read into
// a fresh buffer are, and so are rows cut from a whole safetensors file in
// memory, since writers pad the header to keep the data 8-aligned.
func view[W word](b []byte) ([]W, bool) {
	var w W
	p := unsafe.Pointer(unsafe.SliceData(b))
	if len(b) == 0 {
		return nil, true
	}
	if !hostLittle || uintptr(p)%unsafe.Alignof(w) != 0 {
		return nil, false
	}
	return unsafe.Slice((*W)(p), uintptr(len(b))/unsafe.Sizeof(w)), true
}

// asBytes is the memory of a slice of plain numbers as bytes: the host's own
// layout, so it is the little-endian encoding only where hostLittle holds.
func asBytes[T word | float32 | float64](s []T) []byte {
	var t T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), uintptr(len(s))*unsafe.Sizeof(t))
}

// readWords hands the little-endian words of src to fn, in order, as one slice
// or as consecutive staged pieces; off is the index of the first word of each.
// len(src) must be a multiple of the word size.
func readWords[W word](src []byte, fn func(off int, w []W)) {
	if v, ok := view[W](src); ok {
		fn(0, v)
		return
	}
	p, buf := getStage[W]()
	defer stagePool.Put(p)
	size := int(unsafe.Sizeof(buf[0]))
	n := len(src) / size
	for off := 0; off < n; off += stage {
		w := buf[:min(stage, n-off)]
		load(w, src[off*size:])
		fn(off, w)
	}
}

// writeWords asks fn to fill the words of dst, in order, as one slice or as
// consecutive staged pieces, and stores them little-endian; off is the index
// of the first word of each piece. len(dst) must be a multiple of the word size.
func writeWords[W word](dst []byte, fn func(off int, w []W)) {
	if v, ok := view[W](dst); ok {
		fn(0, v)
		return
	}
	p, buf := getStage[W]()
	defer stagePool.Put(p)
	size := int(unsafe.Sizeof(buf[0]))
	n := len(dst) / size
	for off := 0; off < n; off += stage {
		w := buf[:min(stage, n-off)]
		fn(off, w)
		store(dst[off*size:], w)
	}
}

// load fills w from the little-endian bytes at the start of b.
func load[W word](w []W, b []byte) {
	if hostLittle {
		copy(asBytes(w), b)
		return
	}
	switch w := any(w).(type) {
	case []uint16:
		for i := range w {
			w[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
	case []uint32:
		for i := range w {
			w[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
	case []uint64:
		for i := range w {
			w[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
}

// store writes w little-endian to the start of b.
func store[W word](b []byte, w []W) {
	if hostLittle {
		copy(b, asBytes(w))
		return
	}
	switch w := any(w).(type) {
	case []uint16:
		for i, v := range w {
			binary.LittleEndian.PutUint16(b[2*i:], v)
		}
	case []uint32:
		for i, v := range w {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
	case []uint64:
		for i, v := range w {
			binary.LittleEndian.PutUint64(b[8*i:], v)
		}
	}
}
