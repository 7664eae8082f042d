package engine

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"ladle/core/ckpt"
	"ladle/core/lora"
	"ladle/ui/wire"
)

// AdapterFormat is the format an inspected PEFT LoRA adapter folder reports; the
// page lists it beside the models and names it in recipes as BASE+FOLDER.
const AdapterFormat = wire.AdapterFormat

// maxAdapterConfig bounds adapter_config.json read into memory.
const maxAdapterConfig = 1 << 20

// errNotExist is a file the request does not hold; errors.Is(err, fs.ErrNotExist)
// holds, so that package lora tries an adapter's .bin after its .safetensors.
type errNotExist struct{ name string }

func (e *errNotExist) Error() string { return fmt.Sprintf("no file named %q was given", e.name) }
func (e *errNotExist) Unwrap() error { return fs.ErrNotExist }

// fileReader reads the request's small non-checkpoint files (an adapter's config) by
// their full name, or by a name that ends with "/" + the path asked.
func fileReader(files []File) func(name string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		f, ok := findFile(files, name)
		if !ok {
			return nil, &errNotExist{name}
		}
		if f.Size > maxAdapterConfig {
			return nil, fmt.Errorf("%s: %d bytes is too large for a config file", f.Name, f.Size)
		}
		return io.ReadAll(io.NewSectionReader(f.R, 0, f.Size))
	}
}

func findFile(files []File, name string) (File, bool) {
	name = strings.ReplaceAll(name, "\\", "/")
	for _, f := range files {
		if strings.ReplaceAll(f.Name, "\\", "/") == name {
			return f, true
		}
	}
	for _, f := range files {
		if strings.HasSuffix(strings.ReplaceAll(f.Name, "\\", "/"), "/"+name) {
			return f, true
		}
	}
	return File{}, false
}

// adapterFolders are the folders of the request's files that hold adapter_config.json.
func adapterFolders(files []File) map[string]bool {
	out := map[string]bool{}
	for _, f := range files {
		if dir := folderOf(f.Name); dir != "" && path.Base(strings.ReplaceAll(f.Name, "\\", "/")) == lora.ConfigFile {
			out[dir] = true
		}
	}
	return out
}

// inspectAdapter opens the adapter folder dir among files and describes it: its
// lora_A/lora_B tensors, with r, lora_alpha and the adapted modules in the metadata.
func inspectAdapter(dir string, files []File) (Model, error) {
	open := func(name string) (ckpt.Source, error) {
		f, ok := findFile(files, name)
		if !ok {
			return nil, &errNotExist{name}
		}
		return ckpt.OpenReaderAt(f.R, f.Size, f.Name)
	}
	a, err := lora.Open(dir, open, fileReader(files))
	if err != nil {
		return Model{}, err
	}
	defer a.Close()
	m := describe(dir, a.Weights)
	m.Format = AdapterFormat
	c := a.Config
	m.Metadata = map[string]string{
		"lora.r":          strconv.Itoa(c.R),
		"lora.alpha":      strconv.FormatFloat(c.Alpha, 'g', -1, 64),
		"lora.use_rslora": strconv.FormatBool(c.UseRSLoRA),
		"lora.modules":    strconv.Itoa(len(a.Pairs)),
		"lora.weights":    a.Weights.Path(),
	}
	if c.BaseModel != "" {
		m.Metadata["lora.base_model"] = c.BaseModel
	}
	return m, nil
}
