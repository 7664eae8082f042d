package tensor

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"testing"
)

// transcendentalGolden locks the bits of every portable transcendental on the
// arguments of transcendentals(4000) (about 12,000 per function, hard cases
// included): the sha256 of the results' float64 bits, little-endian, in argument
// order. The same values must come out natively (amd64, arm64, GOAMD64=v3) and under
// GOOS=js GOARCH=wasm, which is the point of these functions; a change here changes
// merges (slerp and the sphere methods) and exact-mode outputs, so it must be
// deliberate. Regenerate with LADLE_GOLDEN=print go test -run TestTranscendentalGolden -v.
var transcendentalGolden = map[string]string{
	"Sin":  "4493e3f0514ee51091ff1e9ed1200c505c4a7cb511148ecbf92f578b21dd29b1",
	"Cos":  "1490be2d7bcffcbf08607e375ee88dbf97baae5156cf86dd84dcb6843de026d9",
	"Acos": "5e3fbb30ad2a71dd286e8125e2be7b83c120a87f444b998c1ad52621fcafba5c",
	"Erf":  "82d528f9b12e66cc61efbc6c35c3277378a7c9941084cc63db80c9dc339d29ce",
	"Tanh": "13a7ed62e5e95191529a2c9ebbdb7898666a9f9bd35f918ccfb270dae1d4e123",
	"Exp":  "205a8e54f6f432dee1b1d1a3ad1d9c6d3807fa214924edc76e5981bda6b098ea",
}

func TestTranscendentalGolden(t *testing.T) {
	print := os.Getenv("LADLE_GOLDEN") == "print"
	for _, c := range transcendentals(4000) {
		h := sha256.New()
		var b [8]byte
		for _, x := range c.xs {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(c.f(x)))
			h.Write(b[:])
		}
		got := hex.EncodeToString(h.Sum(nil))
		if print {
			fmt.Printf("\t%q: %q,\n", c.name, got)
			continue
		}
		if want := transcendentalGolden[c.name]; got != want {
			t.Errorf("%s over %d arguments: sha256 %s, want %s", c.name, len(c.xs), got, want)
		}
	}
}
