// Package wire holds the names of the engine worker protocol's messages and the
// answers the page reads, without the engine: the page program imports it instead of
// package engine, which links the whole core (the planner, the readers, the
// evaluator). Package engine defines its protocol with these names and types; a test
// there checks that the copies of its evaluate and analyze names and answers here
// stay the same.
package wire

import (
	"encoding/json"
	"fmt"

	"ladle/core/eval/part"
)

// Request types (page → worker).
const (
	TypeMethods  = "methods"
	TypeInspect  = "inspect"
	TypeMerge    = "merge"
	TypeCancel   = "cancel"
	TypeRead     = "read"
	TypeMemory   = "memory"
	TypeEvaluate = "evaluate"
	TypeAnalyze  = "analyze"
	// TypeCheck asks for the command's recipe check (plan.Check) of a recipe's text;
	// TypeChecked answers it (Checked).
	TypeCheck = "check"
)

// Answer types (worker → page) that are not also request types.
const (
	TypeReady     = "ready"
	TypeInspected = "inspected"
	TypeProgress  = "progress"
	TypeDone      = "done"
	TypeError     = "error"
	TypeCancelled = "cancelled"
	TypeEvaluated = "evaluated"
	TypeAnalyzed  = "analyzed"
	TypeChecked   = "checked"
)

// AdapterFormat is the format an inspected PEFT LoRA adapter folder reports; the
// page lists it beside the models and names it in recipes as BASE+FOLDER.
const AdapterFormat = "lora-adapter"

// Model describes one checkpoint file, as `ladle inspect --json` does, with totals.
type Model struct {
	Name       string            `json:"name"`
	Format     string            `json:"format"`
	Metadata   map[string]string `json:"metadata"`
	Tensors    []Tensor          `json:"tensors"`
	Parameters int64             `json:"parameters"`
	Bytes      int64             `json:"bytes"`
}

// Tensor is one tensor's name, dtype (safetensors' names) and shape.
type Tensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// Checked answers a check request: Recipe echoes the text checked; Parsed is the
// parsed recipe as JSON (of spec.Recipe; a string, so that a 64-bit seed stays
// exact), "" when the text does not parse; Message is then the parser's error, else
// the command's check's, "" when the recipe passes.
type Checked struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Recipe  string `json:"recipe"`
	Parsed  string `json:"parsed,omitempty"`
	Message string `json:"message"`
}

// NamedRecipe is a recipe an evaluate request merges in memory and then evaluates
// under Name (a sweep point: "alpha=0.3"); engine.NamedRecipe.
type NamedRecipe struct {
	Name   string `json:"name"`
	Recipe string `json:"recipe"`
}

// EvalResult is one model's score as an evaluated answer gives it; engine.EvalResult.
type EvalResult struct {
	Model    string  `json:"model"`
	Accuracy string  `json:"accuracy,omitempty"`
	Loss     string  `json:"loss,omitempty"`
	N        string  `json:"n,omitempty"`
	Error    string  `json:"error,omitempty"`
	Seconds  float64 `json:"seconds"`
	// Part is set, and the figures are not, in the answer to a part of a split
	// evaluation (CombineEval).
	Part *EvalPart `json:"part,omitempty"`
}

// EvalPart is what an evaluate request for one part of a model's samples (Part
// {index, count}) answers instead of the figures: where its samples start, how many
// were classified right, and each one's loss. engine.EvalPart.
type EvalPart = part.Part

// CombineEval joins the answers of the parts of one model's evaluation (any order)
// into its row: the loss summed in float64 in sample order, as one whole evaluation
// (eval.Evaluate) sums it, so that the figures are `ladle eval --json`'s strings
// however the samples were split. A part's error is the row's error.
func CombineEval(parts []EvalResult) EvalResult {
	var r EvalResult
	if len(parts) == 0 {
		r.Error = "no evaluation parts"
		return r
	}
	r.Model = parts[0].Model
	ps := make([]EvalPart, 0, len(parts))
	for _, p := range parts {
		r.Seconds = max(r.Seconds, p.Seconds)
		if p.Error != "" && r.Error == "" {
			r.Error = p.Error
		}
		if p.Part != nil {
			ps = append(ps, *p.Part)
		} else if r.Error == "" {
			r.Error = "an evaluation part came back without its losses (a bug in Ladle)"
		}
	}
	if r.Error != "" {
		return r
	}
	correct, n, loss, err := part.Join(ps)
	if err != nil {
		r.Error = err.Error() + " (a bug in Ladle)"
		return r
	}
	r.Accuracy, r.Loss, r.N = number(float64(correct)/float64(n)), number(loss), number(n)
	return r
}

// number writes a number as `ladle eval --json` does (encoding/json's forms).
func number(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
