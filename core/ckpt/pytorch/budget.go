package pytorch

import (
	"errors"
	"fmt"

	"ladle/core/ckpt"
)

// The pickle budget. A pickle can name far more than it holds: a reference
// costs two bytes whatever it refers to, a MARK one byte whatever gopickle
// allocates for it. These numbers bound what one pickle stream may cost, so
// that memory and time follow the size of the file (plus its largest tensor),
// whatever the pickle says. Real torch.save pickles stay far inside them.
const (
	// maxPickleBytes bounds one pickle stream. A state dict's pickle takes about
	// 130 bytes per tensor (a few MB for the largest models); only pickles that
	// inline large non-tensor blobs come near this.
	maxPickleBytes = 256 << 20

	// A compressed data.pkl (torch never compresses it; a re-zipped archive
	// may) is inflated at most to inflateRatio times its compressed size, or
	// minInflateLimit, whichever is larger (and never past maxPickleBytes):
	// real pickles compress 2 to 5 times, so this only stops floods.
	inflateRatio    = 32
	minInflateLimit = 256 << 10

	// Bounds on gopickle's machine, checked by a pre-scan of the opcodes
	// before gopickle runs: values on its stack, nested MARKs (Python's
	// pickler recurses, so its pickles nest at most about 1,000 deep) and
	// memo entries (torch writes about ten per tensor).
	maxStack = 1 << 20
	maxMarks = 4096
	maxMemo  = 1 << 20

	// Memory: what gopickle, the class hooks and the flattener allocate for a
	// pickle is estimated op by op (costs in simulate.go and flatten.go) and
	// may not exceed budgetPerByte bytes per byte of the stream plus
	// budgetSlack, nor maxPickleMemory in all. torch.save pickles are
	// estimated at 25 to 50 bytes per byte (short tensor names cost more per
	// byte); floods of MARKs or empty containers at 70 to 280.
	budgetPerByte   = 128
	budgetSlack     = 8 << 20
	maxPickleMemory = 2 << 30
)

// ErrBudget is the kind (for errors.Is) of a *ckpt.FormatError from a pickle
// that exceeds the pickle budget: too large once inflated, too deep, too many
// values, or naming more tensors than its size allows.
var ErrBudget = errors.New("the pickle exceeds the pickle budget")

// budgetError is a refusal under the pickle budget; pickleError turns it into
// a *ckpt.FormatError whose Err is ErrBudget.
type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }

func (e *budgetError) Is(target error) bool { return target == ErrBudget }

func overBudget(format string, args ...any) error {
	return &budgetError{msg: fmt.Sprintf(format, args...)}
}

// budget counts the estimated bytes one pickle costs against its limit.
type budget struct {
	used  int64
	limit int64
}

// newBudget is the budget of a stream of n bytes.
func newBudget(n int) *budget {
	return &budget{limit: min(budgetSlack+budgetPerByte*int64(n), maxPickleMemory)}
}

// spend adds n bytes and reports whether the budget still holds them.
func (b *budget) spend(n int64) bool {
	if b == nil {
		return true
	}
	b.used += n
	return b.used <= b.limit
}

// refuse is the error for a budget spent on what.
func (b *budget) refuse(what string) error {
	return overBudget("%s would take more than %s of memory (the pickle budget is %d bytes per byte of pickle, plus 8 MiB, at most 2 GiB)",
		what, ckpt.FormatBytes(b.limit), budgetPerByte)
}

// charge spends n bytes on what, refusing past the limit.
func (b *budget) charge(n int64, what string) error {
	if !b.spend(n) {
		return b.refuse(what)
	}
	return nil
}

// maxErrorLen bounds messages that quote what a pickle holds.
const maxErrorLen = 240

// shorten cuts s to at most maxErrorLen bytes (on a rune boundary).
func shorten(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
