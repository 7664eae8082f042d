package engine

import (
	"io"

	"ladle/core/merge"
	"ladle/ui/wire"
)

// Request types (page → worker); package wire holds the names for the page.
const (
	TypeMethods = wire.TypeMethods
	TypeInspect = wire.TypeInspect
	TypeMerge   = wire.TypeMerge
	TypeCancel  = wire.TypeCancel
	TypeRead    = wire.TypeRead
	TypeMemory  = wire.TypeMemory
	TypeCheck   = wire.TypeCheck
)

// Answer types (worker → page) that are not also request types.
const (
	TypeReady     = wire.TypeReady
	TypeInspected = wire.TypeInspected
	TypeProgress  = wire.TypeProgress
	TypeDone      = wire.TypeDone
	TypeError     = wire.TypeError
	TypeCancelled = wire.TypeCancelled
	TypeChecked   = wire.TypeChecked
)

// Request is one message from the page. Files travel beside it (File objects in the
// browser, Files here).
type Request struct {
	Type    string  `json:"type"`
	ID      string  `json:"id,omitempty"`
	Recipe  string  `json:"recipe,omitempty"`
	Seed    *uint64 `json:"seed,omitempty"`
	Threads int     `json:"threads,omitempty"`
	// Output picks one output of a recipe that makes several (wise_ft's alpha list).
	Output int `json:"output,omitempty"`
	// Name is the result's file name; default "merged.safetensors".
	Name string `json:"name,omitempty"`
	// Part, when set, asks for one part of a merge split over several workers.
	Part *Part `json:"part,omitempty"`
	// Storage is where the result is kept: "memory" (Blob parts), "opfs" (a file in
	// the origin private file system) or "auto"/"" (opfs for large results when the
	// browser has it, else memory).
	Storage string `json:"storage,omitempty"`
	// Eval is what an evaluate request asks (evaluate.go).
	Eval *EvalSpec `json:"eval,omitempty"`
	// Analyze holds an analyze request's settings (analyze.go).
	Analyze *AnalyzeRequest `json:"analyze,omitempty"`
}

// Part selects the Index-th of Count parts of a split merge.
type Part struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// File is an input file: a dropped File in the browser (read by ranges), an os.File
// or a bytes.Reader in tests.
type File struct {
	Name string
	Size int64
	R    io.ReaderAt
}

// Ready is the first message of a worker.
type Ready struct {
	Type       string `json:"type"`
	WasmMemory int64  `json:"wasmMemory,omitempty"`
}

// Methods answers a methods request.
type Methods struct {
	Type    string             `json:"type"`
	ID      string             `json:"id,omitempty"`
	Methods []merge.MethodInfo `json:"methods"`
}

// Inspected answers an inspect request: one Model per file, in order.
type Inspected struct {
	Type   string  `json:"type"`
	ID     string  `json:"id"`
	Models []Model `json:"models"`
}

// Model describes one checkpoint file, as `ladle inspect --json` does, with totals.
type Model = wire.Model

// Tensor is one tensor's name, dtype (safetensors' names) and shape.
type Tensor = wire.Tensor

// Checked answers a check request.
type Checked = wire.Checked

// Progress reports a running merge.
type Progress struct {
	Type         string `json:"type"`
	ID           string `json:"id"`
	TensorsDone  int    `json:"tensorsDone"`
	TensorsTotal int    `json:"tensorsTotal"`
	BytesDone    int64  `json:"bytesDone"`
	BytesTotal   int64  `json:"bytesTotal"`
	Tensor       string `json:"tensor"`
	WasmMemory   int64  `json:"wasmMemory,omitempty"`
}

// Done ends a successful merge. Blob is what the Output's Finish returned (a JS Blob in
// the browser); it is not part of the JSON and the js layer sets it on the message.
type Done struct {
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	WasmMemory int64   `json:"wasmMemory,omitempty"`
	Part       *Part   `json:"part,omitempty"`
	Blob       any     `json:"-"`
}

// Error ends a request that failed.
type Error struct {
	Type  string    `json:"type"`
	ID    string    `json:"id,omitempty"`
	Error ErrorInfo `json:"error"`
}

// ErrorInfo is a structured error: the message, and the file, tensor and recipe key at
// fault when known.
type ErrorInfo struct {
	Message string `json:"message"`
	File    string `json:"file,omitempty"`
	Tensor  string `json:"tensor,omitempty"`
	Where   string `json:"where,omitempty"`
}

// Cancelled ends a merge that was cancelled.
type Cancelled struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ReadResult answers a read (benchmark) request.
type ReadResult struct {
	Type    string  `json:"type"`
	ID      string  `json:"id"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// Memory answers a memory request.
type Memory struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	WasmMemory int64  `json:"wasmMemory"`
}
