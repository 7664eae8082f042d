//go:build js && wasm

package gpu

import (
	"strings"

	"ladle/core/compute"
)

// Status is what the page shows about the backend.
type Status struct {
	GPU     bool         `json:"gpu"`              // the WebGPU kernels are in use
	Name    string       `json:"name"`             // "WebGPU · swiftshader" or "CPU · WebAssembly"
	Reason  string       `json:"reason,omitempty"` // why the CPU (or why a fallback adapter)
	Adapter string       `json:"adapter,omitempty"`
	Tests   []TestResult `json:"tests,omitempty"`
	Stats   *Stats       `json:"stats,omitempty"`
}

// Text is the status in one line, for the page's backend hook.
func (s Status) Text() string {
	if s.Reason == "" {
		return s.Name
	}
	return s.Name + " — " + s.Reason
}

// Mode reads the page's ?gpu= value: "auto" (also for ""), "off" or "force". Anything
// else is auto too, and unknown says so, for the backend line: a mistyped
// ?gpu=froce should not pass unnoticed.
func Mode(v string) (mode, unknown string) {
	switch v := strings.ToLower(strings.TrimSpace(v)); v {
	case "off", "force", "auto":
		return v, ""
	case "":
		return "auto", ""
	}
	return "auto", "?gpu=" + v + " is not a setting (auto, off or force), so auto"
}

const cpuName = "CPU · WebAssembly"

// Start selects the backend for mode: the CPU for "off"; else a device that passes
// its self-tests. It never fails: any problem is the CPU with the reason.
func Start(mode, corrupt string) (compute.Backend, *Device, Status) {
	if mode == "off" {
		return compute.Backend{}, nil, Status{Name: cpuName, Reason: "WebGPU is off (?gpu=off)"}
	}
	d, err := Open(mode)
	if err != nil {
		return compute.Backend{}, nil, Status{Name: cpuName, Reason: err.Error()}
	}
	d.Corrupt = corrupt
	st := Status{Adapter: d.Adapter(), Tests: d.SelfTest(1)}
	if f := Failed(st.Tests); f != "" {
		st.Name, st.Reason = cpuName, "WebGPU ("+d.Adapter()+") failed its self-test, so the CPU computes: "+f
		return compute.Backend{}, nil, st
	}
	st.GPU, st.Name = true, "WebGPU · "+d.Adapter()
	if d.Fallback() {
		st.Reason = "a software adapter (CPU emulation), used because of ?gpu=force"
	}
	return compute.Backend{Merge: d, Forward: d}, d, st
}
