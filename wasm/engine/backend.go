//go:build js && wasm

package main

import (
	"net/url"
	"strings"
	"sync"
	"syscall/js"

	"ladle/core/compute"
	"ladle/wasm/gpu"
)

// backend is the worker's compute backend: the CPU until the WebGPU device (if the
// page's ?gpu= allows one) has passed its self-tests.
type backend struct {
	mu     sync.Mutex
	b      compute.Backend
	dev    *gpu.Device
	status gpu.Status
	ready  chan struct{}
}

// startBackend reads ?gpu= (and the test hook ?gpucorrupt=KERNEL) from the worker's
// URL, which the page copies from its own, and selects the backend in the background;
// post receives the status when it is known, and again if the device is lost.
func startBackend(post func(gpu.Status)) *backend {
	q, _ := url.ParseQuery(trimQuery(str(js.Global().Get("location").Get("search"))))
	be := &backend{ready: make(chan struct{}), status: gpu.Status{Name: "CPU · WebAssembly", Reason: "looking for a WebGPU adapter"}}
	go func() {
		mode, unknown := gpu.Mode(q.Get("gpu"))
		b, dev, st := gpu.Start(mode, q.Get("gpucorrupt"))
		if unknown != "" {
			st.Reason = strings.TrimPrefix(st.Reason+"; "+unknown, "; ")
		}
		be.mu.Lock()
		be.b, be.dev, be.status = b, dev, st
		be.mu.Unlock()
		close(be.ready)
		post(st)
		if dev != nil {
			dev.SetOnLost(func(error) { post(be.report(1)) })
			if q.Get("gpucorrupt") == "lose" { // the test hook: the device goes away
				dev.Destroy()
			}
		}
	}()
	return be
}

func trimQuery(s string) string {
	if len(s) > 0 && s[0] == '?' {
		return s[1:]
	}
	return s
}

// current is the backend a request starts with.
func (be *backend) current() compute.Backend {
	be.mu.Lock()
	defer be.mu.Unlock()
	be.checkLost()
	return be.b
}

// checkLost turns a lost device into the CPU with the reason (be.mu held).
func (be *backend) checkLost() {
	if be.dev == nil || !be.status.GPU {
		return
	}
	if err := be.dev.Lost(); err != nil {
		be.b = compute.Backend{}
		be.status = gpu.Status{Name: "CPU · WebAssembly", Reason: err.Error() + "; the CPU computes from now on", Adapter: be.dev.Adapter(), Tests: be.status.Tests}
	}
}

// report waits for the selection and returns the status; with scale > 1 it first
// reruns the self-tests at that scale (the kernel tests of site/browsertest).
func (be *backend) report(scale int) gpu.Status {
	<-be.ready
	be.mu.Lock()
	be.checkLost()
	st, dev := be.status, be.dev
	be.mu.Unlock()
	if dev != nil {
		s := dev.Stats()
		st.Stats = &s
	}
	if scale > 1 && dev != nil && st.GPU {
		st.Tests = dev.SelfTest(scale)
		if f := gpu.Failed(st.Tests); f != "" {
			st.Reason = "self-test failed: " + f
		}
	}
	return st
}
