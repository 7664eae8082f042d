package eval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ImportCSV reads a table with one sample per row: every column but the label column
// is a feature (a finite number), stored as F32. labelColumn counts from 0; a negative
// one counts from the end (−1 is the last column).
//
// A first row whose features are not all numbers is a header and is skipped. Labels
// that are all non-negative integers ("3", "3.0") are used as class indices; otherwise
// each distinct label is a class name, numbered in sorted order, and the names are
// kept in Dataset.Classes (so "setosa", "versicolor", "virginica" become 0, 1, 2).
func ImportCSV(r io.Reader, labelColumn int) (*Dataset, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var (
		x      []float32
		labels []string
		cols   = -1
		lc     int
	)
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if cols < 0 {
			cols = len(rec)
			if cols < 2 {
				return nil, fmt.Errorf("csv: line %d has %d column(s); need a label and at least one feature", line, cols)
			}
			if lc = labelColumn; lc < 0 {
				lc += cols
			}
			if lc < 0 || lc >= cols {
				return nil, fmt.Errorf("csv: label column %d does not exist: the rows have %d columns (0 to %d, or −1 for the last)", labelColumn, cols, cols-1)
			}
			if isHeader(rec, lc) {
				continue
			}
		}
		for j, f := range rec {
			if j == lc {
				labels = append(labels, strings.TrimSpace(f))
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("csv: line %d, column %d: %q is not a finite number", line, j, f)
			}
			x = append(x, float32(v))
		}
	}
	if len(labels) == 0 {
		return nil, errors.New("csv: no data rows")
	}
	d := &Dataset{Shape: []int{cols - 1}, F32: x}
	d.Labels, d.Classes = classIndices(labels)
	return d, d.check()
}

// isHeader reports whether a first row is a header: some feature is not a number.
func isHeader(rec []string, labelCol int) bool {
	for j, f := range rec {
		if j == labelCol {
			continue
		}
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil {
			return true
		}
	}
	return false
}

// classIndices turns label strings into class indices: as numbers when every label
// is a non-negative integer, else by rank among the sorted distinct names.
func classIndices(labels []string) ([]int, []string) {
	out := make([]int, len(labels))
	numeric := true
	for i, s := range labels {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v != math.Trunc(v) || v > math.MaxInt32 {
			numeric = false
			break
		}
		out[i] = int(v)
	}
	if numeric {
		return out, nil
	}
	set := map[string]int{}
	for _, s := range labels {
		set[s] = 0
	}
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	for i, s := range names {
		set[s] = i
	}
	for i, s := range labels {
		out[i] = set[s]
	}
	return out, names
}
