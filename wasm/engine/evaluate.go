//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"

	"ladle/ui/engine"
)

// decodeEval reads an evaluate request's eval object ({models, recipes, data, split,
// arch}), plain JSON data, into req.Eval.
func decodeEval(data js.Value, req *engine.Request) error {
	v := data.Get("eval")
	if v.Type() != js.TypeObject {
		return nil
	}
	raw := js.Global().Get("JSON").Call("stringify", v).String()
	var spec engine.EvalSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("eval: want {models: [names], recipes: [{name, recipe}], data: name, split, arch}: %v", err)
	}
	req.Eval = &spec
	return nil
}
