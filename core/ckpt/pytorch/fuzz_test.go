package pytorch

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxSeed is the largest fixture added whole to the fuzz corpus; larger
// files (the MNIST runs, 1.5 MB of weights) are added as their pickles in a
// zip without storages, so the fuzzer spends its time on structure.
const maxSeed = 64 << 10

func FuzzOpen(f *testing.F) {
	if _, err := os.Stat(fixtures); err == nil {
		for _, sub := range []string{"pytorch", "candle", "burn-mnist"} {
			paths, _ := filepath.Glob(filepath.Join(fixtures, sub, "*"))
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil || !Sniff(b[:min(len(b), 512)], int64(len(b))) {
					continue
				}
				if len(b) <= maxSeed {
					f.Add(b)
					continue
				}
				if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
					for _, zf := range zr.File {
						if filepath.Base(zf.Name) == "data.pkl" {
							rc, _ := zf.Open()
							var pkl bytes.Buffer
							pkl.ReadFrom(rc)
							rc.Close()
							f.Add(zipFile(f, "mnist", map[string][]byte{"data.pkl": pkl.Bytes()}, zip.Store))
						}
					}
				}
			}
		}
	}
	// Synthetic seeds: every view kind in each container, compressed records,
	// a big-endian file and a torch-layout tar.
	f.Add(zipFile(f, "archive", map[string][]byte{"data.pkl": statePickle(views, false), "data/0": storage6}, zip.Store))
	f.Add(zipFile(f, "a", map[string][]byte{"data.pkl": statePickle(views, false), "data/0": storage6}, zip.Deflate))
	f.Add(zipFile(f, "a", map[string][]byte{"data.pkl": one(w8), "data/0": storage6, "byteorder": []byte("big")}, zip.Store))
	f.Add(legacyFile(statePickle(views, true), []string{"0"}, map[string][]byte{"0": storage6}, map[string]int{"0": 4}))
	f.Add([]byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."))
	f.Add([]byte("PK\x03\x04"))
	// The shapes of issue 12, small: shared references to a tensor and to an
	// integer, deflated floods, calls that cannot be done, a BUILD from a
	// shared state, and views of a deflated storage in and out of order.
	for _, pkl := range [][]byte{sharedRefs(3, 6, true, 0), sharedRefs(3, 6, false, 16), sharedState(8, 8), memoFlood(64),
		[]byte("\x80\x02" + strings.Repeat("(", 64) + "N."), []byte("\x80\x02]" + strings.Repeat("}a", 64) + ".")} {
		f.Add(zipRecords(f, zipRecord{name: "data.pkl", data: pkl}, zipRecord{name: "data/0", data: f32s(1, 2, 3, 4)}))
	}
	for _, op := range []string{"(", "]", "}a", "N0"} {
		f.Add(floodPickle(f, op, 64<<10))
	}
	for _, pkl := range callPickles(16) {
		f.Add(zipRecords(f, zipRecord{name: "data.pkl", data: pkl}))
	}
	f.Add(viewsFile(f, 6, 4, false))
	f.Add(viewsFile(f, 6, 4, true))

	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := Open(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			checkTyped(t, err)
			return
		}
		if src.Format() != "pytorch" {
			t.Fatalf("Format() = %q", src.Format())
		}
		for _, in := range src.Tensors() {
			if in.Bytes() < 0 || !in.DType.Valid() {
				t.Fatalf("%s: %s %v", in.Name, in.DType, in.Shape)
			}
		}
		readAllTensors(t, src)
	})
}
