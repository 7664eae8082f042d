//go:build js && wasm

package jsutil

import (
	"runtime"
	"sync"
	"syscall/js"
)

var uint8Array = js.Global().Get("Uint8Array")

// BytesToJS copies b into a new Uint8Array.
func BytesToJS(b []byte) js.Value {
	u := uint8Array.New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// BytesFromJS copies a Uint8Array (or an ArrayBuffer) into a new Go slice.
func BytesFromJS(v js.Value) []byte {
	u := asUint8Array(v)
	b := make([]byte, u.Get("byteLength").Int())
	js.CopyBytesToGo(b, u)
	return b
}

// CopyFromJS copies a Uint8Array (or an ArrayBuffer) into dst and returns how many
// bytes it copied: the smaller of the two lengths.
func CopyFromJS(dst []byte, v js.Value) int {
	return js.CopyBytesToGo(dst, asUint8Array(v))
}

func asUint8Array(v js.Value) js.Value {
	if v.InstanceOf(uint8Array) {
		return v
	}
	return uint8Array.New(v)
}

// garbageEvery is how many bytes of short-lived JS buffers may be made between two Go
// collections. A js.Value keeps its JS object alive until Go's garbage collector
// finalizes the Value, and the Go heap of a merge hardly grows (its buffers are
// reused), so without a nudge the ArrayBuffers of every read and the Uint8Arrays of
// every output chunk would stay in the tab's memory until the merge ends.
const garbageEvery = 48 << 20

var (
	garbageMu sync.Mutex
	garbage   int
)

// noteGarbage records n bytes of JS buffers that are garbage once their js.Values
// are, and runs Go's collector (which releases those Values) every garbageEvery bytes.
func noteGarbage(n int) {
	garbageMu.Lock()
	garbage += n
	run := garbage >= garbageEvery
	if run {
		garbage = 0
	}
	garbageMu.Unlock()
	if run {
		runtime.GC()
	}
}
