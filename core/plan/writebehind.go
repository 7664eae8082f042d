package plan

import (
	"sync/atomic"
)

// writeBehind writes tensors into the sink on a goroutine of its own, in the order
// they are handed over, so that the next tensor merges while the last one is written:
// copying hundreds of megabytes into the page cache would otherwise leave the cores
// idle. It owns two output buffers (the tensor being written and the one being
// merged), which bounds its memory to two of the largest tensor. The bytes written do
// not change: only when they are written does.
type writeBehind struct {
	jobs   chan writeJob
	done   chan struct{}
	failed atomic.Pointer[error]
	outs   chan []float32 // free output buffers
}

type writeJob struct {
	write func() error
	after func() // always runs, even when write is skipped after a failure
}

func startWriteBehind() *writeBehind {
	wb := &writeBehind{jobs: make(chan writeJob, 1), done: make(chan struct{}), outs: make(chan []float32, 2)}
	wb.outs <- nil
	wb.outs <- nil
	go func() {
		defer close(wb.done)
		for j := range wb.jobs {
			if wb.failed.Load() == nil {
				if err := j.write(); err != nil {
					wb.failed.Store(&err)
				}
			}
			if j.after != nil {
				j.after()
			}
		}
	}()
	return wb
}

// buffer takes a free output buffer of n elements, waiting for a write to finish.
func (wb *writeBehind) buffer(n int) []float32 { return grow(<-wb.outs, n) }

// recycle gives back a buffer that was not submitted.
func (wb *writeBehind) recycle(out []float32) { wb.outs <- out }

// submit queues a write; the error is that of an earlier write, if one failed.
func (wb *writeBehind) submit(write func() error, after func()) error {
	if err := wb.failed.Load(); err != nil {
		if after != nil {
			after()
		}
		return *err
	}
	wb.jobs <- writeJob{write: write, after: after}
	return nil
}

// finish waits for every queued write and returns the first error.
func (wb *writeBehind) finish() error {
	close(wb.jobs)
	<-wb.done
	if err := wb.failed.Load(); err != nil {
		return *err
	}
	return nil
}
