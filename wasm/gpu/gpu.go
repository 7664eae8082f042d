//go:build js && wasm

package gpu

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"
	"unsafe"

	"ladle/core/compute"
	"ladle/wasm/jsutil"
)

//go:embed unitsum.wgsl
var unitSumWGSL string

//go:embed hist.wgsl
var histWGSL string

//go:embed forward.wgsl
var forwardWGSL string

//go:embed conv4.wgsl
var conv4WGSL string

// actWGSL is gelu, tanh and sigmoid, written from compute's tables (compute.ActWGSL).
var actWGSL = compute.ActWGSL()

// flag is the unit-sum kernel's mark for an element the CPU must compute.
const flag = 0x7fc00001

// wg is the kernels' workgroup size; maxGroups the most workgroups in one dimension.
const (
	wg        = 64
	maxGroups = 65535
)

// buffer usages (GPUBufferUsage)
const (
	usMapRead   = 0x0001
	usCopySrc   = 0x0004
	usCopyDst   = 0x0008
	usUniform   = 0x0040
	usStorage   = 0x0080
	mapModeRead = 0x0001
)

// Device is a WebGPU device with Ladle's kernels. Its methods are safe for
// concurrent use (calls are serialised: one queue).
//
// Two locks, because Go in the browser is single-threaded: mu serialises the GPU work
// and is held while a kernel awaits its readback (a Promise), so code that runs inside
// a JS event handler must never wait for it: the handler would keep the event loop
// from settling that Promise, every goroutine would sleep and Go would stop the
// worker's program. Lost and Stats, which a worker's message handler calls, take only
// smu, which is never held across an await.
type Device struct {
	dev      js.Value
	adapter  string // "swiftshader", the vendor/architecture in words
	fallback bool
	maxBind  int64 // bytes one binding may cover

	// Corrupt names a kernel whose output the shader changes (a test hook: the
	// self-test must catch it).
	Corrupt string
	mu      sync.Mutex // the GPU work (held across awaits)
	pipes   map[string]js.Value
	bufs    map[string]*buf
	scratch js.Value // a Uint8Array for copies between Go and JS

	smu    sync.Mutex // the state below (never held across an await)
	stats  Stats
	lost   error
	onLost func(error)
}

type buf struct {
	b    js.Value
	size int64
}

// Open requests an adapter and a device. mode is "auto" (a hardware adapter only) or
// "force" (also a fallback adapter such as SwiftShader). The error says, for a person,
// why there is no GPU.
func Open(mode string) (*Device, error) {
	gpu := js.Global().Get("navigator").Get("gpu")
	if gpu.Type() != js.TypeObject {
		return nil, errors.New("this browser has no WebGPU")
	}
	opts := map[string]any{"powerPreference": "high-performance"}
	ad, err := jsutil.Await(gpu.Call("requestAdapter", opts))
	if err != nil {
		return nil, fmt.Errorf("no WebGPU adapter: %v", err)
	}
	if ad.Type() != js.TypeObject {
		return nil, errors.New("no WebGPU adapter found")
	}
	d := &Device{pipes: map[string]js.Value{}, bufs: map[string]*buf{}}
	info := ad.Get("info")
	if info.Type() == js.TypeObject {
		d.adapter = firstNonEmpty(str(info.Get("architecture")), str(info.Get("description")), str(info.Get("vendor")), "unknown adapter")
		d.fallback = info.Get("isFallbackAdapter").Truthy()
	}
	if ad.Get("isFallbackAdapter").Truthy() {
		d.fallback = true
	}
	if d.adapter == "" { // a browser without GPUAdapterInfo
		d.adapter = "unknown adapter"
	}
	if d.fallback && mode != "force" {
		return nil, fmt.Errorf("only a software WebGPU adapter (%s) was found; ?gpu=force uses it", d.adapter)
	}
	limits := ad.Get("limits")
	maxBuf := limits.Get("maxBufferSize").Float()
	maxBind := limits.Get("maxStorageBufferBindingSize").Float()
	dev, err := jsutil.Await(ad.Call("requestDevice", map[string]any{
		"requiredLimits": map[string]any{"maxBufferSize": maxBuf, "maxStorageBufferBindingSize": maxBind},
	}))
	if err != nil {
		return nil, fmt.Errorf("the WebGPU adapter (%s) gave no device: %v", d.adapter, err)
	}
	d.dev = dev
	d.maxBind = int64(dev.Get("limits").Get("maxStorageBufferBindingSize").Float())
	// Keep chunks far below the limits: a device's memory is shared with the page.
	d.maxBind = min(d.maxBind, 256<<20)
	lost := dev.Get("lost")
	go func() {
		info, _ := jsutil.Await(lost)
		msg := "the WebGPU device was lost"
		if info.Type() == js.TypeObject && str(info.Get("message")) != "" {
			msg += ": " + strings.TrimSuffix(str(info.Get("message")), ".")
		}
		d.setLost(errors.New(msg))
	}()
	return d, nil
}

// Stats counts what the device computed, for the page and the tests.
type Stats struct {
	UnitSums   int   `json:"unitSums"`   // uniform-soup tensors summed on the GPU
	Elements   int64 `json:"elements"`   // their elements
	Flagged    int64 `json:"flagged"`    // of them, computed on the CPU (not provably exact)
	Histograms int   `json:"histograms"` // selection histograms counted on the GPU
	Declined   int   `json:"declined"`   // histograms left to the CPU (unsafe inputs)
	Forward    int   `json:"forward"`    // linear and convolution layers run
	// ForwardChunks: the submissions they took (a batch too large for one binding
	// goes in chunks of samples)
	ForwardChunks int `json:"forwardChunks"`
	LogSoftmax    int `json:"logSoftmax"`  // of them, with the log_softmax after them
	Activations   int `json:"activations"` // of them, with a gelu, tanh or sigmoid
	// TIES' sign election and disjoint sums, and task-vector sums: calls, elements of
	// both, and elements the CPU computed (not provably exact)
	Ties         int   `json:"ties"`
	TaskSums     int   `json:"taskSums"`
	TiesElements int64 `json:"tiesElements"`
	TiesFlagged  int64 `json:"tiesFlagged"`
}

// Stats returns the counts so far. It never waits for the GPU.
func (d *Device) Stats() Stats {
	d.smu.Lock()
	defer d.smu.Unlock()
	return d.stats
}

// count updates the counts.
func (d *Device) count(f func(*Stats)) {
	d.smu.Lock()
	f(&d.stats)
	d.smu.Unlock()
}

// SetOnLost sets a function called once, from its own goroutine, when the device is
// lost (at once if it already is).
func (d *Device) SetOnLost(f func(error)) {
	d.smu.Lock()
	d.onLost = f
	err := d.lost
	d.smu.Unlock()
	if err != nil && f != nil {
		go f(err)
	}
}

// setLost records why the device can no longer be used (the first reason wins); every
// kernel declines from then on.
func (d *Device) setLost(err error) {
	d.smu.Lock()
	first := d.lost == nil
	if first {
		d.lost = err
	}
	f := d.onLost
	d.smu.Unlock()
	if first && f != nil {
		go f(err)
	}
}

// Destroy destroys the device, as a lost device (the test hook ?gpucorrupt=lose):
// every kernel then declines and the CPU computes.
func (d *Device) Destroy() { d.dev.Call("destroy") }

// Adapter names the adapter ("swiftshader").
func (d *Device) Adapter() string { return d.adapter }

// Fallback reports whether the adapter is a software fallback adapter.
func (d *Device) Fallback() bool { return d.fallback }

// Lost returns why the device was lost, or nil. It never waits for the GPU.
func (d *Device) Lost() error {
	d.smu.Lock()
	defer d.smu.Unlock()
	return d.lost
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func str(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// pipeline compiles (once) the entry point of a shader, reporting compile errors.
func (d *Device) pipeline(name, code, entry string) (js.Value, error) {
	key := name + "/" + entry
	if p, ok := d.pipes[key]; ok {
		return p, nil
	}
	mod := d.dev.Call("createShaderModule", map[string]any{"code": code})
	ci, err := jsutil.Await(mod.Call("getCompilationInfo"))
	if err == nil {
		msgs := ci.Get("messages")
		for i := 0; i < msgs.Length(); i++ {
			m := msgs.Index(i)
			if str(m.Get("type")) == "error" {
				return js.Value{}, fmt.Errorf("shader %s: line %d: %s", name, m.Get("lineNum").Int(), str(m.Get("message")))
			}
		}
	}
	d.dev.Call("pushErrorScope", "validation")
	p := d.dev.Call("createComputePipeline", map[string]any{
		"layout":  "auto",
		"compute": map[string]any{"module": mod, "entryPoint": entry},
	})
	if e, _ := jsutil.Await(d.dev.Call("popErrorScope")); e.Type() == js.TypeObject {
		return js.Value{}, fmt.Errorf("pipeline %s: %s", key, str(e.Get("message")))
	}
	d.pipes[key] = p
	return p, nil
}

// buffer returns the named buffer with at least size bytes, reused across calls.
func (d *Device) buffer(name string, size int64, usage int) js.Value {
	size = (max(size, 16) + 255) &^ 255
	if b := d.bufs[name]; b != nil && b.size >= size {
		return b.b
	} else if b != nil {
		b.b.Call("destroy")
	}
	grown := size
	if old := d.bufs[name]; old != nil {
		grown = max(size, min(2*old.size, d.maxBind+256)) // grow geometrically, within the limit
	}
	b := d.dev.Call("createBuffer", map[string]any{"size": grown, "usage": usage})
	d.bufs[name] = &buf{b: b, size: grown}
	return b
}

// write copies Go bytes into a GPU buffer at offset.
func (d *Device) write(dst js.Value, offset int64, p []byte) {
	if len(p) == 0 {
		return
	}
	if d.scratch.Type() != js.TypeObject || d.scratch.Length() < len(p) {
		d.scratch = js.Global().Get("Uint8Array").New(max(len(p), 1<<20))
	}
	view := d.scratch.Call("subarray", 0, len(p))
	js.CopyBytesToJS(view, p)
	d.dev.Get("queue").Call("writeBuffer", dst, offset, view)
}

// read maps a staging buffer and copies its first len(p) bytes into p.
func (d *Device) read(staging js.Value, p []byte) error {
	if _, err := jsutil.Await(staging.Call("mapAsync", mapModeRead, 0, len(p))); err != nil {
		return fmt.Errorf("reading back from the GPU: %v", err)
	}
	ab := staging.Call("getMappedRange", 0, len(p))
	js.CopyBytesToGo(p, js.Global().Get("Uint8Array").New(ab))
	staging.Call("unmap")
	return nil
}

// dispatch encodes one compute pass of count invocations (2-D when count needs more
// than 65535 workgroups); row is the invocations per row, for the shader's index.
func dispatch(pass js.Value, count int) (row uint32) {
	groups := (count + wg - 1) / wg
	gx, gy := min(groups, maxGroups), (groups+maxGroups-1)/maxGroups
	pass.Call("dispatchWorkgroups", max(gx, 1), max(gy, 1))
	return uint32(gx * wg)
}

func rowFor(count int) uint32 {
	groups := (count + wg - 1) / wg
	return uint32(min(groups, maxGroups) * wg)
}

func bindGroup(d *Device, pipe js.Value, entries ...js.Value) js.Value {
	var es []any
	for i, b := range entries {
		es = append(es, map[string]any{"binding": i, "resource": map[string]any{"buffer": b}})
	}
	return d.dev.Call("createBindGroup", map[string]any{"layout": pipe.Call("getBindGroupLayout", 0), "entries": es})
}

// bindGroupAt is bindGroup for an entry point that uses only some bindings (its
// "auto" layout holds those alone): the buffers by binding number.
func bindGroupAt(d *Device, pipe js.Value, entries map[int]js.Value) js.Value {
	var es []any
	for i, b := range entries {
		es = append(es, map[string]any{"binding": i, "resource": map[string]any{"buffer": b}})
	}
	return d.dev.Call("createBindGroup", map[string]any{"layout": pipe.Call("getBindGroupLayout", 0), "entries": es})
}

func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

func u32Bytes(x []uint32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

func u32sBytes(v ...uint32) []byte { return u32Bytes(v) }

var _ compute.Merger = (*Device)(nil)
var _ compute.Forwarder = (*Device)(nil)
var _ compute.ConvAffiner = (*Device)(nil)
var _ compute.LinearHeader = (*Device)(nil)
var _ compute.Activator = (*Device)(nil)
