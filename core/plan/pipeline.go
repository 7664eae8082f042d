package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"ladle/core/ckpt"
	"ladle/core/merge"
)

// bufSet holds the float32 buffers one tensor's inputs are read into. With float32
// inputs the pipeline owns two, so that the next tensor is read while the current one
// is merged: peak memory is then about (2 x inputs + 1) x the largest tensor, the price
// of keeping the disk and the cores busy at once. Narrower inputs (F16, BF16, F8) are
// widened to float32, which already doubles their size in memory, so they get one set
// and no read-ahead: memory stays within 3 x (inputs + 1) x the largest tensor either
// way.
type bufSet struct {
	inputs     [][]float32
	companions [][]float32
	release    []func() // memory maps of inputs read in place, undone once merged
	maps       []mappedInput
}

// mappedInput is where one input tensor is mapped, to name its file after a fault.
type mappedInput struct {
	start, end uintptr
	file       string
}

// done releases the set's memory maps, so that it can take the next tensor.
func (s *bufSet) done() {
	for _, r := range s.release {
		r()
	}
	s.release = s.release[:0]
	s.maps = s.maps[:0]
}

// explainFault turns a memory fault while merging tensor into an error that names the
// input file whose mapping faulted: it shrank (was truncated or rewritten) after the
// merge mapped it.
func (s *bufSet) explainFault(err error, tensor string) error {
	var fe *merge.FaultError
	if s == nil || !errors.As(err, &fe) {
		return err
	}
	for _, m := range s.maps {
		if fe.Addr >= m.start && fe.Addr < m.end {
			size := "gone"
			if fi, serr := os.Stat(m.file); serr == nil {
				size = fmt.Sprintf("now %d bytes", fi.Size())
			}
			return &ckpt.FormatError{File: m.file, Tensor: tensor, Err: err,
				Msg: fmt.Sprintf("the file changed while it was being merged (it is %s; was it truncated or rewritten by another program?): merge again once it is complete", size)}
		}
	}
	return &ckpt.FormatError{Tensor: tensor, Err: err, Msg: "a memory fault while reading the inputs: did an input file change during the merge? Merge again once the files are complete"}
}

type prepared struct {
	t   ckpt.Info
	job *merge.Job // nil: the tensor is copied, not merged
	set *bufSet
	err error
}

// pipeline reads tensors ahead on one goroutine and hands them, in order, to process
// on the caller's goroutine, which writes the sink. needsJob says which tensors are
// merged (and so read ahead); the others reach process with a nil job.
func (x *executor) pipeline(tensors []ckpt.Info, needsJob func(ckpt.Info) bool, process func(ckpt.Info, *merge.Job) error) error {
	ctx, cancel := context.WithCancel(x.ctx)
	ready := make(chan prepared, 1)
	var reader sync.WaitGroup
	free := make(chan *bufSet, 2)
	free <- &bufSet{}
	if x.plan.allInputsWide() {
		free <- &bufSet{}
	}
	defer reader.Wait() // no read outlives Execute: the caller may close the inputs next
	defer func() {
		cancel()
		for item := range ready { // unmap what was read ahead and never merged
			if item.set != nil {
				item.set.done()
			}
		}
		for len(free) > 0 { // and what was merged last
			(<-free).done()
		}
	}()
	reader.Add(1)
	go func() {
		defer reader.Done()
		defer close(ready)
		for _, t := range tensors {
			item := prepared{t: t}
			if needsJob(t) {
				select {
				case item.set = <-free:
					item.set.done() // unmap the tensor it last held here, off the writing goroutine
				case <-ctx.Done():
					return
				}
				item.job, item.err = x.job(ctx, t, item.set)
			}
			select {
			case ready <- item:
			case <-ctx.Done():
				if item.set != nil {
					item.set.done()
				}
				return
			}
			if item.err != nil {
				return
			}
		}
	}()
	for item := range ready {
		err := item.err
		if err == nil {
			err = x.ctx.Err()
		}
		if err == nil {
			err = item.set.explainFault(process(item.t, item.job), item.t.Name)
		}
		if item.set != nil {
			free <- item.set // the reader unmaps it before reusing it
		}
		if err != nil {
			return err
		}
		x.bytesDone += x.plan.inputBytes(item.t)
		x.report(item.t.Name)
	}
	return x.ctx.Err()
}

// allInputsWide reports whether every merged input tensor is stored with 4 or more
// bytes per element, so that read-ahead keeps memory within its bound.
func (p *Plan) allInputsWide() bool {
	for _, t := range p.merged {
		for _, src := range p.readers(t.Name) {
			if info, ok := p.lookup(src, t.Name); ok && info.DType.Size() < 4 {
				return false
			}
		}
	}
	return true
}
