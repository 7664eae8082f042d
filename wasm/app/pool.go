//go:build js && wasm

package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
)

// pool is the page's engine workers and the routing of their answers to requests.
type pool struct {
	workers []js.Value
	funcs   []js.Func
	inbox   chan js.Value // every message of every worker, in arrival order

	mu      sync.Mutex
	next    int
	pending map[string]chan js.Value // request id → its messages
	// onFail is called (from the dispatcher goroutine) when a worker cannot start.
	onFail func(msg string)
	// onBackend is called (from the dispatcher goroutine) with the compute backend a
	// worker reports: when its self-tests are done, and if its device is lost.
	onBackend func(text string)
}

// newPool takes over the engine workers app.js started early (window.ladleWorkers,
// with the messages they sent before the page program listened) and starts the rest
// of n. Their messages are routed by one goroutine.
func newPool(n int, onFail, onBackend func(string)) *pool {
	p := &pool{inbox: make(chan js.Value, 4096), pending: map[string]chan js.Value{}, onFail: onFail, onBackend: onBackend}
	worker := js.Global().Get("Worker")
	script := "engine.js" + gpuQuery() // app.js starts its early workers with the same URL
	early := js.Global().Get("ladleWorkers")
	workerError := func(ev js.Value) {
		msg := "the engine worker could not start"
		if ev.Type() == js.TypeObject && ev.Get("message").Type() == js.TypeString {
			msg += ": " + ev.Get("message").String()
		}
		p.receive(js.ValueOf(map[string]any{"type": "error", "error": map[string]any{"message": msg}}))
	}
	for i := 0; i < n; i++ {
		var w js.Value
		if early.Type() == js.TypeObject && i < early.Length() {
			w = early.Index(i)
		} else {
			w = worker.New(script)
		}
		onmessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
			p.receive(args[0].Get("data"))
			return nil
		})
		onerror := js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) > 0 {
				workerError(args[0])
			}
			return nil
		})
		w.Set("onmessage", onmessage)
		w.Set("onerror", onerror)
		if queued := w.Get("ladleEarly"); queued.Type() == js.TypeObject {
			w.Set("ladleEarly", js.Null())
			for j := 0; j < queued.Length(); j++ {
				if ev := queued.Index(j); str(ev.Get("type")) == "error" {
					workerError(ev)
				} else {
					p.receive(ev.Get("data"))
				}
			}
		}
		p.workers = append(p.workers, w)
		p.funcs = append(p.funcs, onmessage, onerror)
	}
	go p.dispatch()
	return p
}

// earlyWorkers is how many engine workers app.js started (0: none).
func earlyWorkers() int {
	if w := js.Global().Get("ladleWorkers"); w.Type() == js.TypeObject {
		return w.Length()
	}
	return 0
}

func (p *pool) size() int { return len(p.workers) }

// receive runs on the JS event loop: it never blocks.
func (p *pool) receive(m js.Value) {
	select {
	case p.inbox <- m:
	default:
		if str(m.Get("type")) == "progress" {
			return // a later progress message says more
		}
		go func() { p.inbox <- m }()
	}
}

func (p *pool) dispatch() {
	failed := false
	for m := range p.inbox {
		typ, id := str(m.Get("type")), str(m.Get("id"))
		if id == "" {
			if typ == "backend" && p.onBackend != nil {
				p.onBackend(str(m.Get("text")))
				continue
			}
			if typ == "error" && !failed {
				failed = true
				p.onFail(str(m.Get("error").Get("message")))
			}
			continue
		}
		final := typ != "progress"
		p.mu.Lock()
		ch := p.pending[id]
		if final {
			delete(p.pending, id)
		}
		p.mu.Unlock()
		if ch == nil {
			continue
		}
		if final {
			ch <- m // the request's goroutine reads until the final message
			continue
		}
		select {
		case ch <- m:
		default: // the request is behind: it gets the next one
		}
	}
}

// request posts msg (a map for js.ValueOf) to worker w with a fresh id, and returns
// the id and the channel of the answers: progress messages, then one final message.
func (p *pool) request(w int, msg map[string]any) (string, <-chan js.Value) {
	p.mu.Lock()
	p.next++
	id := "page-" + strconv.Itoa(p.next)
	ch := make(chan js.Value, 64)
	p.pending[id] = ch
	p.mu.Unlock()
	msg["id"] = id
	p.workers[w%len(p.workers)].Call("postMessage", js.ValueOf(msg))
	return id, ch
}

// cancel asks worker w to stop request id.
func (p *pool) cancel(w int, id string) {
	p.workers[w%len(p.workers)].Call("postMessage", js.ValueOf(map[string]any{"type": "cancel", "id": id}))
}

// str is a JS string value as Go text ("" for anything else).
func str(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// gpuQuery passes the page's ?gpu= (auto, off, force) and the test hook ?gpucorrupt=
// on to the engine workers, which choose their compute backend from it.
func gpuQuery() string {
	q, err := url.ParseQuery(strings.TrimPrefix(str(js.Global().Get("location").Get("search")), "?"))
	if err != nil {
		return ""
	}
	out := url.Values{}
	for _, k := range []string{"gpu", "gpucorrupt"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "?" + out.Encode()
}
