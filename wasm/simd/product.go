//go:build js && wasm

package simd

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall/js"
	"unsafe"

	"ladle/core/nn"
)

var product js.Value // the module's exported function, once Install succeeded

var calls atomic.Int64 // products computed by the module (for the tests)

// Install builds the module, instantiates it on the engine's memory and makes it
// package nn's exact product. It returns why not when it cannot (no SIMD, no memory
// exposed); the Go product then stays.
func Install() error {
	f, err := instantiate()
	if err != nil {
		return err
	}
	product = f
	nn.SetExactProduct(Product)
	return nil
}

// instantiate compiles the module (synchronously: it is 1.5 kB) and
// instantiates it with globalThis.ladleGoMemory() as its memory.
func instantiate() (f js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("WebAssembly SIMD is not available: %v", r)
		}
	}()
	g := js.Global()
	wa := g.Get("WebAssembly")
	getMem := g.Get("ladleGoMemory")
	if wa.Type() != js.TypeObject {
		return js.Undefined(), errors.New("no WebAssembly object")
	}
	if getMem.Type() != js.TypeFunction {
		return js.Undefined(), errors.New("the loader does not expose the engine's memory (globalThis.ladleGoMemory)")
	}
	mem := getMem.Invoke()
	if !mem.InstanceOf(wa.Get("Memory")) {
		return js.Undefined(), errors.New("globalThis.ladleGoMemory() is not a WebAssembly.Memory")
	}
	bin := productModule()
	arr := g.Get("Uint8Array").New(len(bin))
	js.CopyBytesToJS(arr, bin)
	if !wa.Call("validate", arr).Bool() {
		return js.Undefined(), errors.New("WebAssembly SIMD is not supported here (the module does not validate)")
	}
	mod := wa.Get("Module").New(arr)
	imports := g.Get("Object").New()
	env := g.Get("Object").New()
	env.Set("mem", mem)
	imports.Set("env", env)
	inst := wa.Get("Instance").New(mod, imports)
	return inst.Get("exports").Get("product"), nil
}

// Product is nn.ExactProduct on the module. It declines (false) before Install.
func Product(m, np, k int, a []float32, lda int, b []float32, ldb int, rows []int32, c []float32, ldc int, bias []float32, relu bool) bool {
	if product.Type() != js.TypeFunction || m < tileRows || np%(4*tileVecs) != 0 || m > 1<<30 || np > 1<<30 || k > 1<<30 {
		return false
	}
	var rowsAddr, biasAddr, r int
	if rows != nil {
		rowsAddr = int(uintptr(unsafe.Pointer(unsafe.SliceData(rows))))
	}
	if bias != nil {
		biasAddr = addr(bias)
	}
	if relu {
		r = 1
	}
	calls.Add(1)
	product.Invoke(m, np, k, addr(a), lda, addr(b), ldb, rowsAddr, addr(c), ldc, biasAddr, r)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(rows)
	runtime.KeepAlive(c)
	runtime.KeepAlive(bias)
	return true
}

// addr is the byte address of s's first element in the engine's memory.
func addr(s []float32) int { return int(uintptr(unsafe.Pointer(unsafe.SliceData(s)))) }
