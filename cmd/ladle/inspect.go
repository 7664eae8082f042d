package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"ladle/core/ckpt"
	_ "ladle/core/ckpt/all"
	"ladle/core/dtype"
)

func init() {
	register(&command{
		name:    "inspect",
		args:    "[--json] PATH...",
		summary: "list the tensors of checkpoints (safetensors, PyTorch .pt/.bin, GGUF, numpy .npy/.npz, sharded folders)",
		run:     runInspect,
	})
}

// inspected is the JSON contract of `ladle inspect --json` (DESIGN.md).
type inspected struct {
	Path     string            `json:"path"`
	Format   string            `json:"format"`
	Metadata map[string]string `json:"metadata"`
	Tensors  []inspectedTensor `json:"tensors"`
}

type inspectedTensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

func runInspect(ctx *cmdContext, args []string) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the JSON of the inspect contract")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("no checkpoint given")
	}
	var results []inspected
	var failures []error
	for _, path := range paths {
		res, err := inspectPath(path)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		results = append(results, res)
	}
	if *asJSON {
		if len(failures) > 0 { // half a JSON answer would mislead a script
			return errors.Join(failures...)
		}
		enc := json.NewEncoder(ctx.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for i, res := range results {
		if i > 0 {
			fmt.Fprintln(ctx.stdout)
		}
		printTable(ctx.stdout, res)
	}
	return errors.Join(failures...)
}

// inspectPath opens a checkpoint and describes it.
func inspectPath(path string) (inspected, error) {
	src, err := openModel(path)
	if err != nil {
		return inspected{}, err
	}
	defer src.Close()
	return describe(path, src), nil
}

// describe lists what a checkpoint's index says; it reads no tensor data.
func describe(path string, src ckpt.Source) inspected {
	res := inspected{Path: path, Format: src.Format(), Metadata: src.Metadata(), Tensors: []inspectedTensor{}}
	if res.Metadata == nil {
		res.Metadata = map[string]string{}
	}
	for _, t := range src.Tensors() {
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		res.Tensors = append(res.Tensors, inspectedTensor{Name: t.Name, DType: t.DType.String(), Shape: shape})
	}
	return res
}

func printTable(w io.Writer, res inspected) {
	fmt.Fprintf(w, "%s (%s, %d tensors)\n", res.Path, res.Format, len(res.Tensors))
	if len(res.Metadata) > 0 {
		keys := make([]string, 0, len(res.Metadata))
		for k := range res.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  metadata %s = %s\n", ckpt.DisplayName(k), abbreviate(res.Metadata[k], 70))
		}
	}
	rows := [][]string{{"NAME", "DTYPE", "SHAPE", "PARAMETERS", "BYTES"}}
	var params, size int64
	perDType := map[string]int64{}
	for _, t := range res.Tensors {
		dt, _ := dtype.Parse(t.DType)
		info := ckpt.Info{DType: dt, Shape: t.Shape}
		params += info.NumElements()
		size += info.Bytes()
		perDType[t.DType] += info.NumElements()
		rows = append(rows, []string{ckpt.DisplayName(t.Name), t.DType, formatShape(t.Shape), groupDigits(info.NumElements()), groupDigits(info.Bytes())})
	}
	rows = append(rows, []string{"total", "", "", groupDigits(params), groupDigits(size)})
	writeColumns(w, rows, []bool{false, false, false, true, true})
	var names []string
	for n := range perDType {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %s", n, groupDigits(perDType[n]))
	}
	fmt.Fprintf(w, "parameters by dtype: %s\n", strings.Join(parts, ", "))
}

// writeColumns prints rows as aligned columns, numbers right-aligned.
func writeColumns(w io.Writer, rows [][]string, right []bool) {
	widths := make([]int, len(right))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-len(cell))
			if right[i] {
				b.WriteString(pad + cell)
			} else if i < len(row)-1 {
				b.WriteString(cell + pad)
			} else {
				b.WriteString(cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func formatShape(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// groupDigits writes 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// abbreviate shows a metadata value on one line, escaped (it comes from the file),
// cut to about n bytes.
func abbreviate(s string, n int) string {
	if q := ckpt.DisplayName(s); q != s {
		s = q[1 : len(q)-1]
	}
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}
