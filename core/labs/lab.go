package labs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/core/nn"
)

// Lab is a lab's lab.json, the file the playground reads (public/labs/README.md
// describes it).
type Lab struct {
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Paper   string   `json:"paper"`
	Try     []string `json:"try"`
	Expect  []string `json:"expect"`
	// Files lists every file the page loads: the checkpoints, then the data file.
	Files []string `json:"files"`
	// Data is the evaluation data set (one of Files).
	Data    string   `json:"data"`
	Recipes []Recipe `json:"recipes"`
	Results Results  `json:"results"`
	// Curve is an interpolation curve for the chart (optional), between CurveModels
	// (alpha 0 is the first), so that the page can measure it again.
	Curve       []CurvePoint `json:"curve,omitempty"`
	CurveModels []string     `json:"curve_models,omitempty"`
	// Numbers are the lab's claims as numbers (held-out accuracies, drops, ratios).
	Numbers map[string]float64 `json:"numbers"`
	// Claims are the paper's effects this lab reproduces, each checked on the
	// numbers above when the lab was built.
	Claims []Claim `json:"claims"`
	// Models says how each checkpoint was made.
	Models []ModelInfo `json:"models"`
	// Splits names the splits of the data file and what they hold.
	Splits []SplitInfo `json:"splits"`
	// Table compares merges task by task (the multitask lab).
	Table *Table `json:"table,omitempty"`
}

// Table is a comparison of models over several tasks: each row's held-out accuracy
// on every task's test split, in the order of Tasks, and their mean.
type Table struct {
	Tasks []string   `json:"tasks"`
	Rows  []TableRow `json:"rows"`
}

// TableRow is one model of a Table: a merge (its recipe, and the λ chosen on
// validation) or a reference (the base, the fine-tunes).
type TableRow struct {
	Name     string    `json:"name"`
	Recipe   string    `json:"recipe,omitempty"`
	Lambda   float64   `json:"lambda,omitempty"`
	Accuracy []float64 `json:"accuracy"`
	Average  float64   `json:"average"`
}

// Recipe is one recipe file of a lab, with the name the page shows.
type Recipe struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// Results are held-out accuracies: each ingredient and each merge.
type Results struct {
	Ingredients []Score `json:"ingredients"`
	Soups       []Score `json:"soups"`
}

// Score is one model's accuracy (a fraction) on a split of the lab's data ("" is the
// default split, the test set).
//
// Model is the checkpoint measured (an ingredient) and Recipe the recipe file whose
// merge was measured (a soup), so that the page can measure the figure again; Head,
// when set, says the figure restricts the outputs (a task head), which `ladle eval`
// and the page do not.
type Score struct {
	Name     string  `json:"name"`
	Accuracy float64 `json:"accuracy"`
	Split    string  `json:"split,omitempty"`
	Model    string  `json:"model,omitempty"`
	Recipe   string  `json:"recipe,omitempty"`
	Head     string  `json:"head,omitempty"`
}

// CurvePoint is one point of an interpolation curve θ(α) = (1 − α)·θA + α·θB: the
// loss and accuracy of the plain average, and, for the re-basin lab, of the average
// with B aligned to A first.
type CurvePoint struct {
	Alpha           float64  `json:"alpha"`
	Loss            float64  `json:"loss"`
	Accuracy        float64  `json:"accuracy"`
	AlignedLoss     *float64 `json:"aligned_loss,omitempty"`
	AlignedAccuracy *float64 `json:"aligned_accuracy,omitempty"`
}

// Claim is one effect a lab reproduces, and whether its numbers show it.
type Claim struct {
	Claim string `json:"claim"`
	Holds bool   `json:"holds"`
}

// ModelInfo describes one checkpoint of a lab.
type ModelInfo struct {
	File  string `json:"file"`
	About string `json:"about"`
}

// SplitInfo describes one split of a lab's data file.
type SplitInfo struct {
	Split   string `json:"split"`
	About   string `json:"about"`
	Samples int    `json:"samples"`
}

// IndexEntry is one line of public/labs/index.json.
type IndexEntry struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

// Built is what building one lab produced.
type Built struct {
	Name    string
	Lab     *Lab
	Files   []string // every file written in the lab's folder, lab.json included
	Bytes   int64
	Elapsed time.Duration
}

// def is one lab: its folder name, title and builder.
type def struct {
	name, title, summary string
	build                func(b *builder) (*Lab, error)
}

// All lists the labs in the order of index.json.
func All() []IndexEntry {
	var out []IndexEntry
	for _, d := range defs() {
		out = append(out, IndexEntry{Name: d.name, Title: d.title, Summary: d.summary})
	}
	return out
}

func defs() []def {
	return []def{soupsDef, taskArithmeticDef, rwsDef, rebasinDef, multitaskDef}
}

// Options tune Build.
type Options struct {
	// Only builds these labs (by name); nil builds all. index.json lists every lab
	// either way.
	Only []string
	// Log receives a line per lab (nil: none).
	Log io.Writer
}

// Build writes the labs into dir (public/labs): one folder per lab, replaced whole,
// and index.json. The bytes depend on nothing but this code and the embedded data.
func Build(dir string, opt Options) ([]*Built, error) {
	for _, name := range opt.Only {
		if !known(name) {
			var names []string
			for _, e := range All() {
				names = append(names, e.Name)
			}
			return nil, fmt.Errorf("labs: no lab %q (labs: %s)", name, strings.Join(names, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	all, err := loadDigits()
	if err != nil {
		return nil, err
	}
	var out []*Built
	for _, d := range defs() {
		if opt.Only != nil && !contains(opt.Only, d.name) {
			continue
		}
		start := time.Now()
		bl, err := buildOne(dir, d, all)
		if err != nil {
			return out, fmt.Errorf("lab %s: %w", d.name, err)
		}
		bl.Elapsed = time.Since(start)
		out = append(out, bl)
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "%s: %d files, %s, %.1fs\n", d.name, len(bl.Files), formatBytes(bl.Bytes), bl.Elapsed.Seconds())
		}
	}
	idx, err := json.MarshalIndent(All(), "", "  ")
	if err != nil {
		return out, err
	}
	return out, ckpt.WriteFileAtomic(filepath.Join(dir, "index.json"), append(idx, '\n'))
}

func known(name string) bool {
	for _, d := range defs() {
		if d.name == name {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// buildOne builds a lab in a fresh folder beside its final place, then swaps it in,
// so that no stale file survives and a failed build leaves the old lab as it was.
func buildOne(dir string, d def, all *set) (*Built, error) {
	tmp, err := os.MkdirTemp(dir, "."+d.name+".building-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b := &builder{dir: tmp, all: all}
	lab, err := d.build(b)
	if err != nil {
		return nil, err
	}
	if err := b.check(lab); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(lab, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := b.write("lab.json", append(js, '\n')); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	final := filepath.Join(dir, d.name)
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	var total int64
	for _, f := range b.files {
		fi, err := os.Stat(filepath.Join(final, f))
		if err != nil {
			return nil, err
		}
		total += fi.Size()
	}
	sort.Strings(b.files)
	return &Built{Name: d.name, Lab: lab, Files: b.files, Bytes: total}, nil
}

// builder writes one lab's files.
type builder struct {
	dir   string
	all   *set
	files []string
}

func (b *builder) path(name string) string { return filepath.Join(b.dir, name) }

func (b *builder) write(name string, data []byte) error {
	if contains(b.files, name) {
		return fmt.Errorf("labs: %s written twice", name)
	}
	b.files = append(b.files, name)
	return ckpt.WriteFileAtomic(b.path(name), data)
}

// writeModel writes a checkpoint: F32 tensors in the network's order, with its arch
// under nn.MetadataKey and a line saying how it was made under "ladle.lab".
func (b *builder) writeModel(name string, spec archSpec, ts map[string]nn.Tensor, about string) error {
	n, err := newNet(spec)
	if err != nil {
		return err
	}
	data, err := encodeModel(n, spec, ts, map[string]string{"ladle.lab": about})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return b.write(name, data)
}

func encodeModel(n *net, spec archSpec, ts map[string]nn.Tensor, meta map[string]string) ([]byte, error) {
	var infos []ckpt.Info
	for _, p := range n.params {
		t, ok := ts[p.name]
		if !ok || len(t.Data) != len(p.data) {
			return nil, fmt.Errorf("tensor %q is missing or of the wrong size", p.name)
		}
		shape := make([]int64, len(p.shape))
		for i, d := range p.shape {
			shape[i] = int64(d)
		}
		infos = append(infos, ckpt.Info{Name: p.name, DType: dtype.F32, Shape: shape})
	}
	md := map[string]string{"format": "pt", nn.MetadataKey: string(spec.Arch().JSON())}
	for k, v := range meta {
		md[k] = v
	}
	var buf bytes.Buffer
	w, err := safetensors.NewWriter(&buf, infos, md)
	if err != nil {
		return nil, err
	}
	for _, p := range n.params {
		t := ts[p.name]
		raw := make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		if err := w.WriteTensor(p.name, raw); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeData writes a dataset file of the given splits.
func (b *builder) writeData(name string, sets ...*eval.Dataset) error {
	var buf bytes.Buffer
	if err := eval.Encode(&buf, sets...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return b.write(name, buf.Bytes())
}

// check verifies that lab.json names exactly the files written.
func (b *builder) check(l *Lab) error {
	written := map[string]bool{}
	for _, f := range b.files {
		written[f] = true
	}
	for _, f := range l.Files {
		if !written[f] {
			return fmt.Errorf("labs: lab.json lists %s, which was not written", f)
		}
	}
	if !contains(l.Files, l.Data) {
		return fmt.Errorf("labs: the data file %s is not among the files", l.Data)
	}
	for _, r := range l.Recipes {
		if !written[r.File] {
			return fmt.Errorf("labs: recipe %s was not written", r.File)
		}
	}
	for _, f := range b.files {
		if strings.HasSuffix(f, ".safetensors") && !contains(l.Files, f) {
			return fmt.Errorf("labs: %s was written but lab.json does not list it", f)
		}
	}
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// round4 rounds a reported number to four decimals (accuracies and losses in lab.json).
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// pct formats an accuracy as lab.json stores it (round4) in percent, one decimal:
// texts and tables quote the stored number, not a differently rounded one.
func pct(v float64) string { return strconv.FormatFloat(100*round4(v), 'f', 1, 64) + "%" }

// pct2 is pct with two decimals.
func pct2(v float64) string { return strconv.FormatFloat(100*round4(v), 'f', 2, 64) + "%" }
