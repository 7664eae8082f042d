package pytorch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nlpodyssey/gopickle/types"

	"ladle/core/ckpt"
)

// budgetCase is one hostile file of issue 12 and what opening it must give.
type budgetCase struct {
	name  string
	file  func(t testing.TB) []byte
	want  string   // a part of ErrBudget's message; "" when the file opens
	names []string // the tensors it must list when it opens
	alloc uint64   // the most Open may allocate
}

func storedPickle(pkl []byte) func(t testing.TB) []byte {
	return func(t testing.TB) []byte {
		return zipRecords(t, zipRecord{name: "data.pkl", data: pkl}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)})
	}
}

func flood(op string, n int) func(t testing.TB) []byte {
	return func(t testing.TB) []byte { return floodPickle(t, op, n) }
}

var budgetCases = []budgetCase{
	// Shared references: 10^9 and 10^6 names of one 2x2 tensor in a few KB.
	// Before: inspect died out of memory, or took 16 s and convert 2.3 GB.
	{"3 x 1000 references to a tensor", storedPickle(sharedRefs(3, 1000, true, 0)), "walking its containers", nil, 48 << 20},
	{"2 x 1000 references to a tensor", storedPickle(sharedRefs(2, 1000, true, 0)), "walking its containers", nil, 48 << 20},
	// The same shape over integers holds one tensor; the walk must not visit
	// the 10^9 integers (before: over a minute).
	{"3 x 1000 references to an integer", storedPickle(sharedRefs(3, 1000, false, 480<<10)), "", []string{"w"}, 48 << 20},
	// Floods in a deflated data.pkl: 16 KB and 64 KB files that inflate to 16
	// and 64 MiB of opcodes (before: 3 to 8 GB of memory, or death).
	{"MARK flood, 16 KB deflated", flood("(", 16<<20), "nests more than 4096 MARKs", nil, 48 << 20},
	{"MARK flood, 64 KB deflated", flood("(", 64<<20), "nests more than 4096 MARKs", nil, 48 << 20},
	{"EMPTY_LIST flood, 16 KB deflated", flood("]", 16<<20), "inflates past", nil, 48 << 20},
	{"EMPTY_LIST flood, 64 KB deflated", flood("]", 64<<20), "stack would hold more than", nil, 64 << 20},
	{"appended empty dicts, deflated", flood("}a", 16<<20), "inflates past", nil, 48 << 20},
	// Stored, floods meet the stack bound or the memory budget (128 bytes per
	// byte of pickle, estimated).
	{"EMPTY_LIST flood, 1 MB stored", storedPickle([]byte("\x80\x02" + strings.Repeat("]", maxStack+1) + ".")), "stack would hold more than", nil, 64 << 20},
	{"EMPTY_DICT flood, 1 MB stored", storedPickle([]byte("\x80\x02" + strings.Repeat("}", 1<<20) + ".")), "unpickling would take more than", nil, 64 << 20},
	{"appended empty dicts, 1 MB stored", storedPickle([]byte("\x80\x02]" + strings.Repeat("}a", 1<<19) + ".")), "would take more than", nil, 160 << 20},
	// A 400 KB data.pkl that inflates to 300 MiB, past the 256 MiB limit
	// (before: refused only once 1.2 GB were in memory).
	{"data.pkl inflating to 300 MiB", flood("N0", 300<<20), "inflates past", nil, 96 << 20},
	// gopickle's stack, frames and memo, stored.
	{"4097 nested MARKs", storedPickle([]byte("\x80\x02" + strings.Repeat("(", maxMarks+1) + "N.")), "nests more than 4096 MARKs", nil, 16 << 20},
	{"a million memo entries", storedPickle(memoFlood(maxMemo + 1)), "memo would hold more than", nil, 160 << 20},
	// One state dict of 1,000 entries BUILD into 20,000 objects: 2 x 10^7
	// copies from a 160 KB pickle.
	{"a shared state built 20,000 times", storedPickle(sharedState(1000, 20000)), "unpickling would take more than", nil, 96 << 20},
}

// TestPickleBudget opens each hostile file in a child process that may use
// 1 GiB of heap and 60 s (these files took 1 to 8 GB, or minutes): it must be
// refused with ErrBudget (or open, for the files that are fine) having
// allocated little.
func TestPickleBudget(t *testing.T) {
	for _, c := range budgetCases {
		t.Run(c.name, func(t *testing.T) {
			inChild(t, 1<<30, 60*time.Second, func(t *testing.T) {
				b := c.file(t)
				var src ckpt.Source
				var err error
				alloc := allocated(func() { src, err = Open(bytes.NewReader(b), int64(len(b)), "bad.pt") })
				t.Logf("%d-byte file: allocated %d KiB: %v", len(b), alloc>>10, err)
				if c.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					var names []string
					for _, in := range src.Tensors() {
						names = append(names, in.Name)
					}
					if strings.Join(names, ",") != strings.Join(c.names, ",") {
						t.Fatalf("tensors %v, want %v", names, c.names)
					}
				} else {
					var fe *ckpt.FormatError
					if !errors.As(err, &fe) || !errors.Is(err, ErrBudget) || fe.File != "bad.pt" {
						t.Fatalf("error %T %v, want a FormatError of kind ErrBudget", err, err)
					}
					if !strings.Contains(err.Error(), c.want) {
						t.Fatalf("error %q does not say %q", err, c.want)
					}
				}
				if alloc > c.alloc {
					t.Fatalf("Open allocated %d MiB, more than %d MiB", alloc>>20, c.alloc>>20)
				}
			})
		})
	}
}

// TestTorchPicklesFitTheBudget checks that a large pickle written the way
// torch.save writes it uses well under half its budget.
func TestTorchPicklesFitTheBudget(t *testing.T) {
	data := torchLikePickle(20000)
	p, err := readPickle(bytes.NewReader(data), 0, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder("big.pt")
	root, err := b.unpickle(p, func(pid any) (any, error) { return b.zipStorage(pid.(*types.Tuple)) })
	if err != nil {
		t.Fatal(err)
	}
	named, err := selectTensors("big.pt", root, p.budget)
	if err != nil {
		t.Fatal(err)
	}
	if len(named) != 20000 {
		t.Fatalf("%d tensors", len(named))
	}
	perByte := float64(p.budget.used) / float64(len(data))
	t.Logf("%d-byte pickle: estimated %.1f bytes per byte, budget %d", len(data), perByte, budgetPerByte)
	if perByte > budgetPerByte/2 {
		t.Fatalf("a torch pickle costs %.1f bytes per byte, more than half the budget", perByte)
	}
}

// TestPickleErrorsShort: a REDUCE, NEWOBJ or BUILD that cannot be done names
// what was called in a short message, instead of printing the 2 MB value.
func TestPickleErrorsShort(t *testing.T) {
	want := map[string]string{
		"reduce on an instance":     "calls an instance of __main__.Foo",
		"reduce on a string":        "REDUCE calls a string",
		"newobj on a list":          "NEWOBJ calls a list",
		"build on a list":           "BUILD on a list",
		"reduce on a storage class": "calls torch.FloatStorage",
	}
	for name, pkl := range callPickles(2 << 20) {
		t.Run(name, func(t *testing.T) {
			b := zipRecords(t, zipRecord{name: "data.pkl", data: pkl})
			_, err := Open(bytes.NewReader(b), int64(len(b)), "bad.pt")
			var fe *ckpt.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v, want a FormatError", err, err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("a %d-byte message: %.300s...", len(err.Error()), err)
			}
			if !strings.Contains(err.Error(), want[name]) {
				t.Fatalf("error %q does not say %q", err, want[name])
			}
		})
	}
}

// TestSharedTensorNames: a tensor the state dict holds under two names (tied
// weights) is still read under both.
func TestSharedTensorNames(t *testing.T) {
	var p pk
	p.op(0x80, 2, '}').str("a").tensor("0", 4, 0, []int{2, 2}, []int{2, 1}).op('q', 0, 's').str("b").op('h', 0, 's', '.')
	src := openBytes(t, zipRecords(t, zipRecord{name: "data.pkl", data: p.Bytes()}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)}))
	if n := len(src.Tensors()); n != 2 {
		t.Fatalf("%d tensors", n)
	}
	if !bytes.Equal(readTensor(t, src, "a"), readTensor(t, src, "b")) || !bytes.Equal(readTensor(t, src, "a"), f32s(1, 2, 3, 4)) {
		t.Fatal("a and b differ")
	}
}

// readViews reads every tensor of a viewsFile in Tensors' order and checks
// its values; it returns the first error.
func readViews(t *testing.T, src ckpt.Source, per int) error {
	t.Helper()
	for _, in := range src.Tensors() {
		b, err := ckpt.ReadAll(src, in.Name)
		if err != nil {
			return err
		}
		var i int
		if _, err := fmt.Sscanf(in.Name, "t%d", &i); err != nil {
			t.Fatal(err)
		}
		want := math.Float32bits(viewValue(i))
		if len(b) != 4*per {
			t.Fatalf("%s: %d bytes", in.Name, len(b))
		}
		for j := 0; j < per; j++ {
			if binary.LittleEndian.Uint32(b[4*j:]) != want {
				t.Fatalf("%s[%d] = %v, want %v", in.Name, j, math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])), viewValue(i))
			}
		}
	}
	return nil
}

// streamStorages makes sources opened until the returned function is called
// stream every compressed storage instead of keeping it whole.
func streamStorages() (restore func()) {
	old := storageCacheMin
	storageCacheMin = 1 << 10
	return func() { storageCacheMin = old }
}

// TestDeflatedViews reads the views of a compressed storage, kept whole and
// streamed, in storage order and reversed.
func TestDeflatedViews(t *testing.T) {
	for _, stream := range []bool{false, true} {
		for _, reversed := range []bool{false, true} {
			b := viewsFile(t, 24, 1000, reversed)
			restore := func() {}
			if stream {
				restore = streamStorages()
			}
			err := readViews(t, openBytes(t, b), 1000)
			restore()
			switch {
			case stream && reversed:
				// Each view restarts the stream: refused once that costs
				// more than inflating the storage 8 times over.
				var ue *ckpt.UnsupportedError
				if !errors.As(err, &ue) || ue.File != "test.pt" || ue.Tensor == "" || !strings.Contains(err.Error(), "out of storage order") {
					t.Fatalf("stream, reversed: error %T %v, want an UnsupportedError", err, err)
				}
			case err != nil:
				t.Fatalf("stream %v, reversed %v: %v", stream, reversed, err)
			}
		}
	}
}

// TestDeflatedViewsOnePass: reading the 2,000 views of a deflated 16 MiB
// storage inflates it once (it took 16 s when each view inflated the record
// from its start), and a streamed view read twice, as the merge does, is not
// inflated twice.
func TestDeflatedViewsOnePass(t *testing.T) {
	b := viewsFile(t, 2000, 2048, false)
	cr := &countingReader{r: bytes.NewReader(b)}
	src, err := Open(cr, int64(len(b)), "views.pt")
	if err != nil {
		t.Fatal(err)
	}
	if err := readViews(t, src, 2048); err != nil {
		t.Fatal(err)
	}
	if read := cr.bytes.Load(); read > 2*int64(len(b)) {
		t.Fatalf("reading the views read %d bytes of a %d-byte file", read, len(b))
	}

	defer streamStorages()()
	cr = &countingReader{r: bytes.NewReader(b)}
	src, err = Open(cr, int64(len(b)), "views.pt")
	if err != nil {
		t.Fatal(err)
	}
	readTensor(t, src, "t00007")
	n := cr.bytes.Load()
	readTensor(t, src, "t00007")
	if again := cr.bytes.Load() - n; again != 0 {
		t.Fatalf("reading a streamed view again read %d more bytes", again)
	}
}

// TestDeflatedBigStorage reads 8,000 views of a deflated 256 MiB storage (a
// 2.6 MB file) in a child process: one pass, with about one view in memory
// (it took minutes, inflating from the record's start for each view).
func TestDeflatedBigStorage(t *testing.T) {
	inChild(t, 256<<20, 60*time.Second, func(t *testing.T) {
		b := viewsFile(t, 8000, 8192, false)
		cr := &countingReader{r: bytes.NewReader(b)}
		src, err := Open(cr, int64(len(b)), "big.pt")
		if err != nil {
			t.Fatal(err)
		}
		if err := readViews(t, src, 8192); err != nil {
			t.Fatal(err)
		}
		if read := cr.bytes.Load(); read > 2*int64(len(b)) {
			t.Fatalf("reading the views read %d bytes of a %d-byte file", read, len(b))
		}
	})
}

// TestCompressedStorageTooSmall: a compressed record that claims more bytes
// than deflate can hold is refused before anything is allocated for it.
func TestCompressedStorageTooSmall(t *testing.T) {
	s := w8
	s.numel = 1 << 30
	s.shape, s.stride = []int{1 << 15, 1 << 15}, []int{1 << 15, 1}
	raw := deflateRepeat(nil, []byte{0}, 1, nil)
	raw.size = 4 << 30 // what the header claims
	b := zipRecords(t, zipRecord{name: "data.pkl", data: one(s)}, zipRecord{name: "data/0", raw: raw})
	expectError(t, b, new(*ckpt.FormatError), "w", "cannot hold")
}
