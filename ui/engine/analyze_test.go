package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"ladle/core/analyze"
	"ladle/core/ckpt"
)

// The analyze request answers, over the protocol, the JSON `ladle analyze --json`
// prints for the same files (the core run on files on disk), byte for byte.
func TestAnalyzeMatchesNative(t *testing.T) {
	files := map[string][]byte{"base.safetensors": model(t, layers, 0), "a.safetensors": model(t, layers, 1), "b.safetensors": model(t, layers, 2), "c.safetensors": model(t, layers, 3)}
	dir := writeFiles(t, files)
	density := 0.3
	h := newHost()
	h2 := h.env()
	h2.ProgressEvery = -1
	e := New(h2)
	var in []File
	for _, n := range []string{"c.safetensors", "base.safetensors", "a.safetensors", "b.safetensors"} {
		in = append(in, memFile(n, files[n]))
	}
	e.Handle(Request{Type: TypeAnalyze, ID: "an", Analyze: &AnalyzeRequest{Base: "base.safetensors", Models: []string{"a.safetensors", "b.safetensors", "c.safetensors"}, Density: &density}}, in)
	got, ok := h.wait(t).(Analyzed)
	if !ok {
		t.Fatalf("answer %#v", h.last(t))
	}
	var progress []Progress
	for _, m := range h.msgs {
		if p, ok := m.(Progress); ok {
			progress = append(progress, p)
		}
	}
	// 7 floating tensors; the I64 counter is left out
	if len(progress) != 7 || progress[6].TensorsDone != 7 || progress[6].BytesDone != progress[6].BytesTotal || progress[0].BytesTotal != progress[6].BytesTotal {
		t.Errorf("progress %+v", progress)
	}

	open := func(n string) analyze.Input {
		src, err := ckpt.Open(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		return analyze.Input{Name: n, Source: src}
	}
	want, err := analyze.Analyze(context.Background(), open("base.safetensors"), []analyze.Input{open("a.safetensors"), open("b.safetensors"), open("c.safetensors")}, analyze.Options{Density: density})
	if err != nil {
		t.Fatal(err)
	}
	var wb, gb bytes.Buffer
	json.NewEncoder(&wb).Encode(want)
	json.NewEncoder(&gb).Encode(got.Result)
	if wb.String() != gb.String() {
		t.Errorf("the engine's analysis differs from the native one:\n%s\n%s", gb.String(), wb.String())
	}
	// the message, as JSON, carries the contract's result object
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"type":"analyzed"`) || !strings.Contains(string(b), `"result":{"models":["a.safetensors","b.safetensors","c.safetensors"],"cosine":[[`) {
		t.Errorf("message JSON: %.200s", b)
	}

	// without models: every file but the base, in the order sent
	e.Handle(Request{Type: TypeAnalyze, ID: "all", Analyze: &AnalyzeRequest{Base: "base.safetensors"}}, in)
	if all, ok := h.wait(t).(Analyzed); !ok || strings.Join(all.Result.Models, ",") != "c.safetensors,a.safetensors,b.safetensors" {
		t.Errorf("default models: %#v", h.last(t))
	}
}

func TestAnalyzeErrorsAndCancel(t *testing.T) {
	base, a := model(t, layers, 0), model(t, layers, 1)
	h := newHost()
	e := New(h.env())
	in := []File{memFile("base.safetensors", base), memFile("a.safetensors", a)}
	for _, tc := range []struct {
		req  *AnalyzeRequest
		want string
	}{
		{nil, "analyze.base"},
		{&AnalyzeRequest{Base: "nope.safetensors"}, "nope.safetensors"},
		{&AnalyzeRequest{Base: "base.safetensors", Models: []string{"a.safetensors", "gone.pt"}}, "gone.pt"},
	} {
		e.Handle(Request{Type: TypeAnalyze, ID: "x", Analyze: tc.req}, in)
		m, ok := h.wait(t).(Error)
		if !ok || !strings.Contains(m.Error.Message, tc.want) {
			t.Errorf("%+v: %#v, want an error naming %q", tc.req, h.last(t), tc.want)
		}
	}
	// a cancelled analysis answers cancelled
	big := []spec{{"w", layers[1].dt, []int64{512, 512}}, {"v", layers[1].dt, []int64{512, 512}}}
	in = []File{memFile("base", model(t, big, 0)), memFile("a", model(t, big, 1))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.analyze(ctx, Request{Type: TypeAnalyze, ID: "c", Analyze: &AnalyzeRequest{Base: "base"}}, in)
	if _, ok := h.wait(t).(Cancelled); !ok {
		t.Errorf("cancelled: %#v", h.last(t))
	}
}
