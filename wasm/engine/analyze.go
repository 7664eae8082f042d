//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"

	"ladle/ui/engine"
)

// decodeAnalyze reads an analyze request's settings object ({base, models, density}).
func decodeAnalyze(v js.Value) (*engine.AnalyzeRequest, error) {
	raw := js.Global().Get("JSON").Call("stringify", v).String()
	var a engine.AnalyzeRequest
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return nil, fmt.Errorf("analyze: want {base: name, models: [names], density: number}: %v", err)
	}
	return &a, nil
}
