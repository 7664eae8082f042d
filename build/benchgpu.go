package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"ladle/core/ckpt"
	"ladle/core/ckpt/safetensors"
	"ladle/core/dtype"
	"ladle/core/eval"
	"ladle/site/browsertest"
)

// The CPU and WebGPU paths side by side: the same soup merged and the same network
// evaluated in one engine worker, once with ?gpu=off and once with ?gpu=force, in a
// Chromium started with --enable-unsafe-webgpu. Without a GPU that adapter is
// SwiftShader, a CPU emulation of a GPU: its numbers say nothing about real hardware.

// evalArch is burn-mnist's network (three 3x3 convolutions, batchnorm, two linear
// layers): the bench evaluates it with random weights on random images.
const evalArch = `{"input_shape": [1, 28, 28], "input_scale": 0.00392156862745098,
 "normalize": {"mean": [0.1307], "std": [0.3081]},
 "layers": [{"op": "conv2d", "name": "conv1"}, {"op": "relu"}, {"op": "conv2d", "name": "conv2"}, {"op": "relu"},
  {"op": "conv2d", "name": "conv3"}, {"op": "relu"}, {"op": "batchnorm", "name": "norm1", "eps": 1e-5},
  {"op": "flatten"}, {"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"},
  {"op": "batchnorm", "name": "norm2", "eps": 1e-5}, {"op": "log_softmax"}]}`

func writeEvalNet(path string) error {
	shapes := []struct {
		name  string
		shape []int64
		scale float64
	}{
		{"conv1.weight", []int64{8, 1, 3, 3}, 0.3}, {"conv1.bias", []int64{8}, 0.1},
		{"conv2.weight", []int64{16, 8, 3, 3}, 0.1}, {"conv2.bias", []int64{16}, 0.1},
		{"conv3.weight", []int64{24, 16, 3, 3}, 0.08}, {"conv3.bias", []int64{24}, 0.1},
		{"norm1.weight", []int64{24}, -1}, {"norm1.bias", []int64{24}, 0}, {"norm1.running_mean", []int64{24}, 0}, {"norm1.running_var", []int64{24}, -1},
		{"fc1.weight", []int64{32, 11616}, 0.01}, {"fc1.bias", []int64{32}, 0.1},
		{"fc2.weight", []int64{10, 32}, 0.2}, {"fc2.bias", []int64{10}, 0.1},
		{"norm2.weight", []int64{10}, -1}, {"norm2.bias", []int64{10}, 0}, {"norm2.running_mean", []int64{10}, 0}, {"norm2.running_var", []int64{10}, -1},
	}
	var infos []ckpt.Info
	for _, s := range shapes {
		infos = append(infos, ckpt.Info{Name: s.name, DType: dtype.F32, Shape: s.shape})
	}
	r := rand.New(rand.NewPCG(1, 2))
	return safetensors.WriteFile(path, infos, map[string]string{"ladle.arch": evalArch}, func(w *safetensors.Writer) error {
		for _, s := range shapes {
			n := int64(1)
			for _, d := range s.shape {
				n *= d
			}
			buf := make([]byte, 4*n)
			for i := int64(0); i < n; i++ {
				v := float32(r.NormFloat64() * s.scale)
				if s.scale < 0 {
					v = 1 // batchnorm scale and variance
				}
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if err := w.BeginTensor(s.name); err != nil {
				return err
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeEvalData(path string, n int) error {
	r := rand.New(rand.NewPCG(3, 4))
	d := &eval.Dataset{Shape: []int{28, 28}, U8: make([]uint8, n*28*28), Labels: make([]int, n)}
	for i := range d.U8 {
		d.U8[i] = uint8(r.IntN(256))
	}
	for i := range d.Labels {
		d.Labels[i] = r.IntN(10)
	}
	return eval.WriteFile(path, d)
}

type gpuSide struct {
	backend          string
	mergeSeconds     float64
	mergeSum         string
	evalSeconds      float64
	accuracy, loss   string
	unitSums, layers int
}

// benchGPU measures both paths and prints the table.
func benchGPU(srv *browsertest.Server, work string, paths []string, recipe string, inputBytes int64, runs, samples int) error {
	netPath, dataPath := filepath.Join(work, "eval-net.safetensors"), filepath.Join(work, "eval-data.safetensors")
	if err := writeEvalNet(netPath); err != nil {
		return err
	}
	if err := writeEvalData(dataPath, samples); err != nil {
		return err
	}
	b, err := browsertest.Start(context.Background(), browsertest.Options{WebGPU: true})
	if err != nil {
		return err
	}
	defer b.Close()
	files := append(append([]string{}, paths...), netPath, dataPath)
	side := func(query string) (gpuSide, error) {
		var s gpuSide
		if err := b.Navigate(srv.URL + "/enginetest.html" + query); err != nil {
			return s, err
		}
		if _, err := browsertest.Eval[int](b, "ladleTest.start(1)"); err != nil {
			return s, err
		}
		type report struct {
			Text  string `json:"text"`
			Stats *struct {
				UnitSums int `json:"unitSums"`
				Forward  int `json:"forward"`
			} `json:"stats"`
		}
		rep, err := browsertest.Eval[report](b, "ladleTest.backend(1)")
		if err != nil {
			return s, err
		}
		s.backend = rep.Text
		if err := b.SetFiles("#files", files); err != nil {
			return s, err
		}
		type done struct {
			Type    string  `json:"type"`
			Seconds float64 `json:"seconds"`
			Results []struct {
				Accuracy string `json:"accuracy"`
				Loss     string `json:"loss"`
				Error    string `json:"error"`
			} `json:"results"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		for i := 0; i < max(runs, 1); i++ {
			m, err := browsertest.Eval[done](b, fmt.Sprintf("ladleTest.merge(%q)", recipe))
			if err != nil || m.Type != "done" {
				return s, fmt.Errorf("merge %s: %v %+v", query, err, m.Error)
			}
			if i == 0 || m.Seconds < s.mergeSeconds {
				s.mergeSeconds = m.Seconds
			}
		}
		if s.mergeSum, err = browsertest.Eval[string](b, "ladleTest.blobSHA256()"); err != nil {
			return s, err
		}
		req := fmt.Sprintf(`ladleTest.request({type: "evaluate", files: ladleTest.files(), eval: {models: [%q], data: %q}})`, filepath.Base(netPath), filepath.Base(dataPath))
		for i := 0; i < max(runs, 1); i++ {
			e, err := browsertest.Eval[done](b, req)
			if err != nil || e.Type != "evaluated" || len(e.Results) != 1 || e.Results[0].Error != "" {
				return s, fmt.Errorf("evaluate %s: %v %+v", query, err, e)
			}
			if i == 0 || e.Seconds < s.evalSeconds {
				s.evalSeconds = e.Seconds
			}
			s.accuracy, s.loss = e.Results[0].Accuracy, e.Results[0].Loss
		}
		if rep, err = browsertest.Eval[report](b, "ladleTest.backend(1)"); err == nil && rep.Stats != nil {
			s.unitSums, s.layers = rep.Stats.UnitSums, rep.Stats.Forward
		}
		return s, nil
	}
	fmt.Fprintln(os.Stderr, "browser: the same merge and an evaluation on the CPU path (?gpu=off) and on WebGPU (?gpu=force)...")
	cpu, err := side("?gpu=off")
	if err != nil {
		return err
	}
	gpu, err := side("?gpu=force")
	if err != nil {
		return err
	}
	gbps := func(s float64) string { return fmt.Sprintf("%7.3f GB/s", float64(inputBytes)/1e9/s) }
	ips := func(s float64) string { return fmt.Sprintf("%8.0f images/s", float64(samples)/s) }
	fmt.Printf("\n  CPU and WebGPU paths in one engine worker (best of %d runs):\n", max(runs, 1))
	fmt.Printf("    %-44s %9s  %s\n", "what", "time", "throughput")
	fmt.Printf("    %-44s %8.2fs  %s\n", "merge (the soup above), CPU path", cpu.mergeSeconds, gbps(cpu.mergeSeconds))
	fmt.Printf("    %-44s %8.2fs  %s\n", "merge (the soup above), WebGPU", gpu.mergeSeconds, gbps(gpu.mergeSeconds))
	fmt.Printf("    %-44s %8.2fs  %s\n", fmt.Sprintf("evaluate a conv net on %d images, CPU path", samples), cpu.evalSeconds, ips(cpu.evalSeconds))
	fmt.Printf("    %-44s %8.2fs  %s\n", fmt.Sprintf("evaluate a conv net on %d images, WebGPU", samples), gpu.evalSeconds, ips(gpu.evalSeconds))
	cl, _ := strconv.ParseFloat(cpu.loss, 64)
	gl, _ := strconv.ParseFloat(gpu.loss, 64)
	fmt.Printf("\n    CPU path backend: %s\n    WebGPU backend:   %s\n", cpu.backend, gpu.backend)
	fmt.Printf("    merge bytes identical: %v (WebGPU summed %d tensors)\n", cpu.mergeSum == gpu.mergeSum, gpu.unitSums)
	fmt.Printf("    evaluation: accuracy %s (CPU) vs %s (WebGPU), loss relative difference %.2g (%d layer calls on the GPU)\n",
		cpu.accuracy, gpu.accuracy, math.Abs(gl-cl)/math.Max(math.Abs(cl), 1e-30), gpu.layers)
	fmt.Printf("    SwiftShader is a CPU emulation of a GPU: these WebGPU numbers say nothing about a real GPU.\n")
	if cpu.mergeSum != gpu.mergeSum {
		return fmt.Errorf("the WebGPU merge differs from the CPU path's")
	}
	return nil
}
