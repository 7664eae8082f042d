package state

import "slices"

// MaxWorkers caps the engine workers a page starts, whatever the machine's core count:
// each one holds its own WebAssembly instance.
const MaxWorkers = 4

// WorkerCount is how many engine workers to start for a machine with cores logical
// cores (navigator.hardwareConcurrency; 0 when unknown): one per core, at least one,
// at most MaxWorkers.
func WorkerCount(cores int) int {
	return max(1, min(cores, MaxWorkers))
}

// Parts aggregates the progress of a merge split over several workers, each writing
// one part of the file (a contiguous group of tensors).
//
// The totals are shown only once every part has reported (until then Total is zero,
// "starting"), so that they never grow during a run: each part's totals are fixed by
// its first message. Bytes add up exactly: each part reads only its group's bytes.
// Tensor counts do not:
// every part walks the whole tensor list (the tensors outside its group pass in no
// time), so the aggregate counts tensors as the parts' mean position, which is
// monotone and reaches the total exactly when every part has finished.
type Parts struct {
	parts    []Progress
	reported []bool
	last     string
}

// NewParts tracks n parts.
func NewParts(n int) *Parts {
	return &Parts{parts: make([]Progress, max(n, 1)), reported: make([]bool, max(n, 1))}
}

// Update records part i's progress and returns the merge's.
func (s *Parts) Update(i int, p Progress) Progress {
	if i >= 0 && i < len(s.parts) {
		s.parts[i] = p
		s.reported[i] = true
		if p.Tensor != "" {
			s.last = p.Tensor
		}
	}
	return s.Total()
}

// Finish records that part i is complete (its last progress may have been skipped).
func (s *Parts) Finish(i int) Progress {
	if i >= 0 && i < len(s.parts) {
		p := &s.parts[i]
		p.TensorsDone, p.BytesDone = p.TensorsTotal, p.BytesTotal
	}
	return s.Total()
}

// Total is the aggregate progress.
func (s *Parts) Total() Progress {
	var t Progress
	if slices.Contains(s.reported, false) {
		return t
	}
	done := 0
	for _, p := range s.parts {
		t.BytesDone += p.BytesDone
		t.BytesTotal += p.BytesTotal
		t.TensorsTotal = max(t.TensorsTotal, p.TensorsTotal)
		done += p.TensorsDone
	}
	t.TensorsDone = done / len(s.parts)
	t.Tensor = s.last
	return t
}
