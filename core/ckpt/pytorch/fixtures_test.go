package pytorch

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ladle/core/ckpt"
	"ladle/core/dtype"
)

// want is one expected tensor: its name, type, shape and a few element values
// (index in C order -> value). The values were decoded from the files' bytes
// with Python's zipfile and struct modules, independently of this package.
type want struct {
	name  string
	dt    dtype.DType
	shape []int64
	vals  map[int]float64
}

// fixtureWants lists every PyTorch fixture with all its tensors, in file order.
//
// Notes on what the files turned out to hold:
//   - candle/test.pt is [[1,2,3,4],[5,6,7,8]] (I64), not arange(8).
//   - candle/fortran_tensor_3d.pth is arange(1, 25).reshape(2, 3, 4) (I64)
//     stored with strides (1, 2, 6), i.e. in Fortran order; read in C order it
//     is 1, 2, ..., 24.
//   - burn-checkpoint.pt is {model_state_dict, optimizer_state_dict, epoch,
//     loss}; only the model's four tensors are read.
//   - burn-legacy_uncloned_views.pt holds two views at offsets 10 and 50 of one
//     100-element storage holding 0..99.
//   - the gopickle files pickle a bare tensor, which is named "tensor".
//   - burn-tar_weight_bias.tar is burn's hand-built tar: no tensors member, and
//     _rebuild_tensor_v2 over inline ('storage', ...) tuples in an
//     OrderedDict([...]) call.
var fixtureWants = []struct {
	file    string
	tensors []want
}{
	{"pytorch/burn-bfloat16.pt", []want{
		{"tensor", dtype.BF16, []int64{3}, map[int]float64{0: 1.5, 1: -2.5, 2: 3.5}},
	}},
	{"pytorch/burn-checkpoint.pt", []want{
		{"fc1.weight", dtype.F32, []int64{10, 5}, map[int]float64{0: 1.04140103, 1: -0.399730623, 25: -0.640119016, 49: 1.08048654}},
		{"fc1.bias", dtype.F32, []int64{10}, map[int]float64{0: -0.0908903778, 1: -0.579054773, 5: 0.675650597, 9: 2.1010282}},
		{"fc2.weight", dtype.F32, []int64{3, 10}, map[int]float64{0: 0.178691953, 1: -0.129308969, 15: -0.315709621, 29: 0.980893791}},
		{"fc2.bias", dtype.F32, []int64{3}, map[int]float64{0: 1.43713343, 1: -0.440061748, 2: 0.499594778}},
	}},
	{"pytorch/burn-float16.pt", []want{
		{"tensor", dtype.F16, []int64{3}, map[int]float64{0: 1.5, 1: -2.25, 2: 3.125}},
	}},
	{"pytorch/burn-legacy_shared_storage.pt", []want{
		{"view1", dtype.F32, []int64{10}, map[int]float64{0: 1.04395056, 1: -0.307409763, 5: -0.134346455, 9: -0.321936488}},
		{"view2", dtype.F32, []int64{20}, map[int]float64{0: 0.530362427, 1: 1.20337224, 10: 0.764882445, 19: 0.927445531}},
		{"view3", dtype.F32, []int64{10}, map[int]float64{0: 0.15385364, 1: 1.82212412, 5: -0.2523866, 9: -0.900121331}},
	}},
	{"pytorch/burn-legacy_uncloned_views.pt", []want{
		{"tensor1", dtype.F32, []int64{10}, map[int]float64{0: 10, 1: 11, 5: 15, 9: 19}},
		{"tensor2", dtype.F32, []int64{10}, map[int]float64{0: 50, 1: 51, 5: 55, 9: 59}},
	}},
	{"pytorch/burn-legacy_with_offsets.pt", []want{
		{"tensor1", dtype.F32, []int64{10}, map[int]float64{0: 1, 1: 1.00999999, 5: 1.04999995, 9: 1.09000003}},
		{"tensor2", dtype.F32, []int64{5}, map[int]float64{0: 2, 1: 2.0999999, 2: 2.20000005, 4: 2.4000001}},
		{"tensor3", dtype.F32, []int64{5}, map[int]float64{0: 3, 1: 3.0999999, 2: 3.20000005, 4: 3.4000001}},
	}},
	{"pytorch/burn-simple_legacy.pt", []want{
		{"weight", dtype.F32, []int64{2, 3}, map[int]float64{0: -1.81295502, 1: 1.19728136, 3: -0.65648818, 5: 2.08789277}},
		{"bias", dtype.F32, []int64{2}, map[int]float64{0: 1, 1: 1}},
		{"running_mean", dtype.F32, []int64{2}, map[int]float64{0: 0, 1: 0}},
	}},
	{"pytorch/burn-state_dict.pt", []want{
		{"weight", dtype.F32, []int64{3, 4}, map[int]float64{0: 0.467903048, 1: -0.204931915, 6: -0.341697484, 11: -1.09351099}},
		{"bias", dtype.F32, []int64{3}, map[int]float64{0: 1.13510227, 1: 0.759245217, 2: -3.59446883}},
		{"running_mean", dtype.F32, []int64{3}, map[int]float64{0: 0, 1: 0, 2: 0}},
		{"running_var", dtype.F32, []int64{3}, map[int]float64{0: 1, 1: 1, 2: 1}},
	}},
	{"pytorch/burn-tar_weight_bias.tar", []want{
		// Values hand-decoded from the storages member with struct.unpack('<f').
		{"weight", dtype.F32, []int64{2, 3}, map[int]float64{0: 0.100000001, 1: 0.200000003, 4: 0.5, 5: 0.600000024}},
		{"bias", dtype.F32, []int64{2}, map[int]float64{0: 0.00999999978, 1: 0.0199999996}},
	}},
	{"pytorch/gopickle-tensor_bfloat16_proto5.pt", []want{
		{"tensor", dtype.BF16, []int64{4}, map[int]float64{0: 1.203125, 1: -3.40625, 2: 5.59375, 3: -7.8125}},
	}},
	{"pytorch/gopickle-tensor_float16_proto1.pt", []want{
		{"tensor", dtype.F16, []int64{4}, map[int]float64{0: 1.2001953125, 1: -3.400390625, 2: 5.6015625, 3: -7.80078125}},
	}},
	{"pytorch/gopickle-tensor_float32_proto2.pt", []want{
		{"tensor", dtype.F32, []int64{4}, map[int]float64{0: 1.20000005, 1: -3.4000001, 2: 5.5999999, 3: -7.80000019}},
	}},
	{"pytorch/gopickle-tensor_float32_proto2_zip.pt", []want{
		{"tensor", dtype.F32, []int64{4}, map[int]float64{0: 1.20000005, 1: -3.4000001, 2: 5.5999999, 3: -7.80000019}},
	}},
	{"candle/fortran_tensor_3d.pth", []want{
		{"tensor_fortran", dtype.I64, []int64{2, 3, 4}, map[int]float64{0: 1, 1: 2, 12: 13, 23: 24}},
	}},
	{"candle/test.pt", []want{
		{"test", dtype.I64, []int64{2, 4}, map[int]float64{0: 1, 1: 2, 4: 5, 7: 8}},
	}},
	{"candle/test_with_key.pt", []want{
		{"test", dtype.I64, []int64{2, 4}, map[int]float64{0: 1, 1: 2, 4: 5, 7: 8}},
	}},
	{"burn-mnist/run-a.pt", []want{
		{"conv1.weight", dtype.F32, []int64{8, 1, 3, 3}, map[int]float64{0: 0.162276879, 1: -0.236593708, 36: 0.228323087, 71: -0.206825495}},
		{"conv1.bias", dtype.F32, []int64{8}, map[int]float64{0: 0.13375102, 1: -0.0298667252, 4: 0.0295043122, 7: 0.0988402143}},
		{"conv2.weight", dtype.F32, []int64{16, 8, 3, 3}, map[int]float64{0: -0.160508186, 1: -0.207953304, 576: -0.0624948665, 1151: 0.000562447414}},
		{"conv2.bias", dtype.F32, []int64{16}, map[int]float64{0: 0.0352874175, 1: -0.0619429983, 8: 0.0711528137, 15: 0.0320357531}},
		{"conv3.weight", dtype.F32, []int64{24, 16, 3, 3}, map[int]float64{0: -0.12507911, 1: -0.10645166, 1728: -0.125336453, 3455: -0.0592750385}},
		{"conv3.bias", dtype.F32, []int64{24}, map[int]float64{0: -0.071395658, 1: -0.00192104443, 12: -0.00961700082, 23: 0.10966479}},
		{"norm1.weight", dtype.F32, []int64{24}, map[int]float64{0: 0.888243258, 1: 0.983555853, 12: 1.02828884, 23: 0.690858483}},
		{"norm1.bias", dtype.F32, []int64{24}, map[int]float64{0: 0.0506270714, 1: -0.0549335629, 12: -0.0498996451, 23: -0.0453799777}},
		{"norm1.running_mean", dtype.F32, []int64{24}, map[int]float64{0: 0.00515281456, 1: 0.0079902662, 12: 0.00890659355, 23: 0.412911355}},
		{"norm1.running_var", dtype.F32, []int64{24}, map[int]float64{0: 0.00112629018, 1: 0.00254607922, 12: 0.00231688912, 23: 0.190990686}},
		{"norm1.num_batches_tracked", dtype.I64, []int64{}, map[int]float64{0: 3752}},
		{"fc1.weight", dtype.F32, []int64{32, 11616}, map[int]float64{0: 0.00167276978, 1: -0.0116149569, 185856: -0.00154063117, 371711: -0.0169441383}},
		{"fc1.bias", dtype.F32, []int64{32}, map[int]float64{0: -0.0101072369, 1: -0.00292695523, 16: -0.0103482101, 31: 0.0118523054}},
		{"fc2.weight", dtype.F32, []int64{10, 32}, map[int]float64{0: -0.0603605397, 1: -0.0539982654, 160: -0.0619051419, 319: -0.0268339179}},
		{"fc2.bias", dtype.F32, []int64{10}, map[int]float64{0: 0.0884803385, 1: 0.0972522423, 5: 0.154312581, 9: -0.0719992742}},
		{"norm2.weight", dtype.F32, []int64{10}, map[int]float64{0: 3.55485964, 1: 3.84163237, 5: 3.35899782, 9: 3.08222032}},
		{"norm2.bias", dtype.F32, []int64{10}, map[int]float64{0: -0.0972346216, 1: -0.0136645529, 5: -0.184832141, 9: -0.169806927}},
		{"norm2.running_mean", dtype.F32, []int64{10}, map[int]float64{0: 8.57930374, 1: 5.74522781, 5: 6.50713396, 9: 5.7097106}},
		{"norm2.running_var", dtype.F32, []int64{10}, map[int]float64{0: 86.5900879, 1: 47.1004524, 5: 69.5958405, 9: 78.6040192}},
		{"norm2.num_batches_tracked", dtype.I64, []int64{}, map[int]float64{0: 3752}},
	}},
	{"burn-mnist/run-b-whole-module.pt", []want{
		{"conv1.weight", dtype.F32, []int64{8, 1, 3, 3}, map[int]float64{0: 0.166971594, 1: -0.239101946, 36: 0.21212405, 71: -0.204246551}},
		{"conv1.bias", dtype.F32, []int64{8}, map[int]float64{0: 0.128500685, 1: -0.0320052169, 4: 0.0363428295, 7: 0.102515459}},
		{"conv2.weight", dtype.F32, []int64{16, 8, 3, 3}, map[int]float64{0: -0.160477057, 1: -0.211296678, 576: -0.0712150633, 1151: -0.000770972285}},
		{"conv2.bias", dtype.F32, []int64{16}, map[int]float64{0: 0.0373917073, 1: -0.061735604, 8: 0.0739329159, 15: 0.0165599082}},
		{"conv3.weight", dtype.F32, []int64{24, 16, 3, 3}, map[int]float64{0: -0.123803079, 1: -0.102702692, 1728: -0.132913455, 3455: -0.0622411594}},
		{"conv3.bias", dtype.F32, []int64{24}, map[int]float64{0: -0.0753773674, 1: 0.00633224472, 12: -0.0140861329, 23: 0.0966042057}},
		{"norm1.weight", dtype.F32, []int64{24}, map[int]float64{0: 0.886595905, 1: 0.998794436, 12: 1.03931952, 23: 0.660037041}},
		{"norm1.bias", dtype.F32, []int64{24}, map[int]float64{0: 0.0343309343, 1: -0.0607008152, 12: -0.0599031039, 23: -0.0396195315}},
		{"norm1.running_mean", dtype.F32, []int64{24}, map[int]float64{0: 0.00975579023, 1: 0.00780731626, 12: 0.0169725902, 23: 0.364166439}},
		{"norm1.running_var", dtype.F32, []int64{24}, map[int]float64{0: 0.00232015504, 1: 0.00231953361, 12: 0.00516668754, 23: 0.157883018}},
		{"norm1.num_batches_tracked", dtype.I64, []int64{}, map[int]float64{0: 7504}},
		{"fc1.weight", dtype.F32, []int64{32, 11616}, map[int]float64{0: 0.00208603451, 1: -0.0115198409, 185856: -0.00132895994, 371711: -0.0166814066}},
		{"fc1.bias", dtype.F32, []int64{32}, map[int]float64{0: -0.0135215148, 1: -0.00712216599, 16: -0.00792304147, 31: 0.011072143}},
		{"fc2.weight", dtype.F32, []int64{10, 32}, map[int]float64{0: -0.0365130976, 1: -0.0266362317, 160: -0.0481174737, 319: -0.00896987971}},
		{"fc2.bias", dtype.F32, []int64{10}, map[int]float64{0: 0.0884803385, 1: 0.0972522423, 5: 0.154312581, 9: -0.0719992742}},
		{"norm2.weight", dtype.F32, []int64{10}, map[int]float64{0: 3.9085362, 1: 4.22767973, 5: 3.68279696, 9: 3.39301395}},
		{"norm2.bias", dtype.F32, []int64{10}, map[int]float64{0: -0.118888356, 1: -0.021625651, 5: -0.203179702, 9: -0.20166631}},
		{"norm2.running_mean", dtype.F32, []int64{10}, map[int]float64{0: 8.84836006, 1: 5.38655663, 5: 7.05271149, 9: 7.11794329}},
		{"norm2.running_var", dtype.F32, []int64{10}, map[int]float64{0: 60.2415085, 1: 29.0167465, 5: 42.1608276, 9: 61.0851021}},
		{"norm2.num_batches_tracked", dtype.I64, []int64{}, map[int]float64{0: 7504}},
	}},
}

func TestFixtures(t *testing.T) {
	fixtureDir(t, "pytorch")
	for _, fx := range fixtureWants {
		t.Run(fx.file, func(t *testing.T) {
			path := filepath.Join(fixtures, fx.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !Sniff(b[:min(len(b), ckpt.SniffLen)], int64(len(b))) {
				t.Errorf("Sniff does not claim %s", fx.file)
			}
			// Through the registry, as the rest of Ladle opens files.
			src, err := ckpt.OpenReaderAt(bytes.NewReader(b), int64(len(b)), path)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer src.Close()
			if src.Format() != "pytorch" || src.Path() != path {
				t.Errorf("Format, Path = %q, %q", src.Format(), src.Path())
			}
			if md := src.Metadata(); md == nil || len(md) != 0 {
				t.Errorf("Metadata = %v, want an empty map", md)
			}
			infos := src.Tensors()
			if len(infos) != len(fx.tensors) {
				var names []string
				for _, in := range infos {
					names = append(names, in.Name)
				}
				t.Fatalf("got %d tensors %v, want %d", len(infos), names, len(fx.tensors))
			}
			for i, w := range fx.tensors {
				in := infos[i]
				if in.Name != w.name || in.DType != w.dt || !reflect.DeepEqual(append([]int64{}, in.Shape...), w.shape) {
					t.Errorf("tensor %d = %s %s %v, want %s %s %v", i, in.Name, in.DType, in.Shape, w.name, w.dt, w.shape)
					continue
				}
				data := readTensor(t, src, w.name)
				if int64(len(data)) != in.Bytes() {
					t.Errorf("%s: %d bytes, want %d", w.name, len(data), in.Bytes())
				}
				for idx, v := range w.vals {
					got := element(t, w.dt, data, idx)
					if w.dt == dtype.F32 {
						// The expected values are printed with 9 digits: exact as float32.
						if float32(got) != float32(v) {
							t.Errorf("%s[%d] = %.9g, want %.9g", w.name, idx, got, v)
						}
					} else if got != v {
						t.Errorf("%s[%d] = %v, want %v", w.name, idx, got, v)
					}
				}
			}
		})
	}
}

// TestFixturesCovered makes sure every PyTorch file among the fixtures has
// expectations above, so a new fixture cannot go untested.
func TestFixturesCovered(t *testing.T) {
	fixtureDir(t, "pytorch")
	known := map[string]bool{}
	for _, fx := range fixtureWants {
		known[fx.file] = true
	}
	for _, sub := range []string{"pytorch", "candle", "burn-mnist"} {
		entries, err := os.ReadDir(filepath.Join(fixtures, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".pt", ".pth", ".tar", ".bin":
				if !known[sub+"/"+e.Name()] {
					t.Errorf("fixture %s/%s has no expectations in fixtureWants", sub, e.Name())
				}
			}
		}
	}
}

// TestMNISTRunsAgree checks the two burn-mnist PyTorch runs (a state dict and
// a whole pickled module) list the same 20 tensors, as the fixture README says.
func TestMNISTRunsAgree(t *testing.T) {
	dir := fixtureDir(t, "burn-mnist")
	wantNames := []string{
		"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
		"norm1.weight", "norm1.bias", "norm1.running_mean", "norm1.running_var", "norm1.num_batches_tracked",
		"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
		"norm2.weight", "norm2.bias", "norm2.running_mean", "norm2.running_var", "norm2.num_batches_tracked",
	}
	shapes := map[string][]int64{
		"conv1.weight": {8, 1, 3, 3}, "conv2.weight": {16, 8, 3, 3}, "conv3.weight": {24, 16, 3, 3},
		"fc1.weight": {32, 11616}, "fc2.weight": {10, 32}, "fc1.bias": {32}, "fc2.bias": {10},
		"conv1.bias": {8}, "conv2.bias": {16}, "conv3.bias": {24},
	}
	for _, file := range []string{"run-a.pt", "run-b-whole-module.pt"} {
		src, err := ckpt.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		infos := src.Tensors()
		if len(infos) != len(wantNames) {
			t.Fatalf("%s: %d tensors, want %d", file, len(infos), len(wantNames))
		}
		for i, in := range infos {
			if in.Name != wantNames[i] {
				t.Errorf("%s: tensor %d is %s, want %s", file, i, in.Name, wantNames[i])
			}
			want, dt := shapes[in.Name], dtype.F32
			switch {
			case strings.HasPrefix(in.Name, "norm1."):
				want = []int64{24}
			case strings.HasPrefix(in.Name, "norm2."):
				want = []int64{10}
			}
			if strings.HasSuffix(in.Name, "num_batches_tracked") {
				want, dt = []int64{}, dtype.I64
			}
			if in.DType != dt || !reflect.DeepEqual(append([]int64{}, in.Shape...), want) {
				t.Errorf("%s: %s is %s %v, want %s %v", file, in.Name, in.DType, in.Shape, dt, want)
			}
		}
		src.Close()
	}
}

// TestSniffOthers checks that the other formats' fixtures are not claimed.
func TestSniffOthers(t *testing.T) {
	fixtureDir(t, "pytorch")
	for _, f := range []string{
		"candle/test.npz", "candle/test.npy", "gguf/llama-2-tiny-random.gguf",
		"burn-mnist/run-c.safetensors", "pytorch/burn-multi_layer.safetensors", "safetensors-samples/overall.safetensors",
	} {
		b, err := os.ReadFile(filepath.Join(fixtures, f))
		if err != nil {
			t.Fatal(err)
		}
		if Sniff(b[:min(len(b), ckpt.SniffLen)], int64(len(b))) {
			t.Errorf("Sniff claims %s", f)
		}
		_, err = Open(bytes.NewReader(b), int64(len(b)), f)
		if err == nil {
			t.Errorf("Open(%s) succeeded", f)
		} else {
			checkTyped(t, err)
		}
	}
}
