//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall/js"
	"time"

	_ "ladle/core/ckpt/all" // every format the playground reads (the page program links none)
	"ladle/ui/engine"
	"ladle/wasm/gpu"
	"ladle/wasm/jsutil"
	"ladle/wasm/simd"
)

// backendMessage tells the page which backend computes (without id: when it is
// known or changes; with id: the answer to a backend request).
type backendMessage struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	gpu.Status
	Text string `json:"text"`
}

// opfsThreshold: "auto" results at least this large go to the origin private file system,
// which keeps them on disk instead of in the browser's memory (measured: 226 MB instead of
// 1.37 GB in the browser process for a 1.2 GB-input merge).
const opfsThreshold = 128 << 20

func main() {
	self := js.Global()
	// The exact products of evaluations with WebAssembly SIMD (the same bits as Go's
	// product, about 10 times faster); without SIMD the Go product computes.
	if err := simd.Install(); err != nil {
		self.Get("console").Call("info", "ladle engine: "+err.Error()+"; the Go product computes")
	}
	be := startBackend(func(st gpu.Status) { post(backendMessage{Type: "backend", Status: st, Text: st.Text()}) })
	eng := engine.New(engine.Env{Post: post, NewOutput: newOutput, Memory: wasmMemory, Compute: be.current})
	onmessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			dispatch(eng, be, args[0].Get("data"))
		}
		return nil
	})
	self.Set("onmessage", onmessage)
	if q := self.Get("ladleQueue"); q.Type() == js.TypeObject {
		for i := 0; i < q.Length(); i++ {
			dispatch(eng, be, q.Index(i).Get("data"))
		}
	}
	self.Set("ladleQueue", js.Null())
	eng.Ready()
	go jsutil.CleanOPFS(24 * time.Hour)
	select {}
}

// dispatch turns a message into a request and starts it.
func dispatch(eng *engine.Engine, be *backend, data js.Value) {
	if data.Type() == js.TypeObject && str(data.Get("type")) == "backend" {
		// {type: "backend", id, scale?}: the compute backend in use, after its
		// self-tests (rerun at scale when given).
		id, scale := str(data.Get("id")), 1
		if v := data.Get("scale"); v.Type() == js.TypeNumber {
			scale = v.Int()
		}
		go func() {
			st := be.report(scale)
			post(backendMessage{Type: "backend", ID: id, Status: st, Text: st.Text()})
		}()
		return
	}
	req, files, err := decode(data)
	if err != nil {
		post(engine.Error{Type: engine.TypeError, ID: req.ID, Error: engine.ErrorInfo{Message: err.Error(), Where: "request"}})
		return
	}
	eng.Go(req, files)
}

func decode(data js.Value) (engine.Request, []engine.File, error) {
	var req engine.Request
	if data.Type() != js.TypeObject {
		return req, nil, fmt.Errorf("a request is an object with a type, not %s", data.Type())
	}
	req.ID = str(data.Get("id"))
	t := data.Get("type")
	if t.Type() != js.TypeString {
		return req, nil, fmt.Errorf("the request has no type (methods, inspect, merge, evaluate, cancel, read, memory)")
	}
	req.Type = t.String()
	req.Recipe = str(data.Get("recipe"))
	req.Name = str(data.Get("name"))
	req.Storage = str(data.Get("storage"))
	if v := data.Get("threads"); v.Type() == js.TypeNumber {
		req.Threads = v.Int()
	}
	if v := data.Get("output"); v.Type() == js.TypeNumber {
		req.Output = v.Int()
	}
	switch v := data.Get("seed"); v.Type() {
	case js.TypeUndefined, js.TypeNull:
	case js.TypeNumber:
		f := v.Float()
		if f < 0 || f != float64(uint64(f)) || f > 1<<53 {
			return req, nil, fmt.Errorf("seed %v: want a whole number from 0 to 2^53 (give larger seeds as a string of digits)", f)
		}
		s := uint64(f)
		req.Seed = &s
	default:
		s, err := strconv.ParseUint(str(v), 10, 64)
		if err != nil {
			return req, nil, fmt.Errorf("seed %q: want a whole number from 0 to 2^64-1", str(v))
		}
		req.Seed = &s
	}
	if err := decodeEval(data, &req); err != nil {
		return req, nil, err
	}
	if v := data.Get("part"); v.Type() == js.TypeObject {
		req.Part = &engine.Part{Index: v.Get("index").Int(), Count: v.Get("count").Int()}
	}
	if v := data.Get("analyze"); v.Type() == js.TypeObject {
		a, err := decodeAnalyze(v)
		if err != nil {
			return req, nil, err
		}
		req.Analyze = a
	}
	var files []engine.File
	if v := data.Get("files"); v.Type() == js.TypeObject {
		for i := 0; i < v.Length(); i++ {
			f := v.Index(i)
			if f.Type() != js.TypeObject || f.Get("slice").Type() != js.TypeFunction {
				return req, nil, fmt.Errorf("files[%d] is not a File or Blob", i)
			}
			name := str(f.Get("name"))
			if names := data.Get("names"); names.Type() == js.TypeObject && i < names.Length() && str(names.Index(i)) != "" {
				name = str(names.Index(i))
			}
			if name == "" {
				name = fmt.Sprintf("file%d", i)
			}
			r := jsutil.NewBlobReaderAt(f)
			files = append(files, engine.File{Name: name, Size: r.Size(), R: r})
		}
	}
	return req, files, nil
}

func str(v js.Value) string {
	switch v.Type() {
	case js.TypeString:
		return v.String()
	case js.TypeUndefined, js.TypeNull:
		return ""
	}
	return js.Global().Call("String", v).String()
}

var jsonParse = js.Global().Get("JSON").Get("parse")

// post sends one of ui/engine's messages as a plain object.
func post(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		b, _ = json.Marshal(engine.Error{Type: engine.TypeError, Error: engine.ErrorInfo{Message: "encoding a message: " + err.Error()}})
	}
	obj := jsonParse.Invoke(string(b))
	if done, ok := msg.(engine.Done); ok {
		if blob, ok := done.Blob.(js.Value); ok {
			obj.Set("blob", blob)
		}
	}
	js.Global().Call("postMessage", obj)
}

func wasmMemory() int64 {
	f := js.Global().Get("ladleWasmMemory")
	if f.Type() != js.TypeFunction {
		return 0
	}
	return int64(f.Invoke().Float())
}

var outputs int

func newOutput(spec engine.OutputSpec) (engine.Output, error) {
	useOPFS := false
	switch spec.Storage {
	case "opfs":
		if !jsutil.OPFSAvailable() {
			return nil, fmt.Errorf("storage: this browser has no origin private file system for workers; use storage \"memory\"")
		}
		useOPFS = true
	case "", "auto":
		useOPFS = spec.Size >= opfsThreshold && jsutil.OPFSAvailable()
	case "memory":
	default:
		return nil, fmt.Errorf("storage %q: want memory, opfs or auto", spec.Storage)
	}
	if useOPFS {
		outputs++
		unique := fmt.Sprintf("%d-%d-%s", time.Now().UnixMilli(), outputs, randomID())
		w, err := jsutil.NewOPFSWriter(unique + "-" + strings.ReplaceAll(spec.Name, "/", "_"))
		if err == nil || spec.Storage == "opfs" {
			return w, err
		}
	}
	return jsutil.NewBlobWriter(), nil
}

func randomID() string {
	c := js.Global().Get("crypto")
	if c.Type() == js.TypeObject && c.Get("randomUUID").Type() == js.TypeFunction {
		return c.Call("randomUUID").String()[:8]
	}
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
