package ui

import (
	"fmt"
	"strings"

	"github.com/vugu/vugu"

	"ladle/ui/state"
)

// Host is what the page needs from the browser: reading chosen files, the engine
// workers, downloads and the page's own origin. ladle/wasm/app implements it over
// syscall/js; tests use a fake. Its methods are called from event handlers, with the
// render lock held: they must not block, and the work they start updates the state
// later under EventEnv().Lock() / UnlockRender().
type Host interface {
	// AddFiles adds the files of the event's target, an <input type=file> (files or a
	// folder), as models.
	AddFiles(event vugu.DOMEvent)
	// DropFiles adds the files dropped on the drop zone.
	DropFiles(event vugu.DOMEvent)
	// RemoveModel forgets a loaded file.
	RemoveModel(name string)
	// ImportRecipe reads the recipe file chosen in the event's target into the editor.
	ImportRecipe(event vugu.DOMEvent)
	// ExportRecipe downloads the editor's text as recipe.yaml.
	ExportRecipe()
	// Run starts the merge of the recipe text on the engine workers; Cancel stops it.
	Run()
	Cancel()
	// OpenLab loads a bundled lab: its files as models, its first recipe, its numbers.
	OpenLab(name string)
	// OpenLabRecipe loads another recipe file of the open lab into the editor.
	OpenLabRecipe(file string)
}

// Page is what every component renders: the state and the host that acts on it.
type Page struct {
	App  *state.App
	Host Host
	// Reading counts the files being inspected; Dragging is set while files are
	// dragged over the drop zone.
	Reading  int
	Dragging bool
	// Workers is how many engine workers the page runs merges on.
	Workers int
}

// NewRoot returns the page's root component.
func NewRoot(app *state.App, host Host) *Root {
	return &Root{P: &Page{App: app, Host: host, Workers: 1}}
}

// humanCount writes a parameter count as 1.2M, 34.5k, 999.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// humanBytes writes a size as 12.3 MB.
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// domID turns a file or parameter name into a safe id fragment.
func domID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
				b.WriteRune(r)
			default:
				fmt.Fprintf(&b, "_%x", r)
			}
		}
	}
	return b.String()
}

// value is the text of a form control of the event's target.
func value(event vugu.DOMEvent) string { return event.PropString("target", "value") }

// checkpointExt reports whether a file name looks like a checkpoint the engine reads;
// a folder pick keeps only those (a model folder also holds configs and tokenizers).
func checkpointExt(name string) bool {
	lower := strings.ToLower(name)
	for _, ext := range []string{".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf", ".npz", ".npy"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	return false
}

// FolderFiles picks the files of a folder selection to load as models, by their
// names: the checkpoints, and the index of a sharded checkpoint reported as an error
// (sharded checkpoints are merged with the ladle command; the page merges single files).
func FolderFiles(names []string) (keep []int, notice string) {
	var index string
	for _, n := range names {
		if strings.HasSuffix(strings.ToLower(n), ".safetensors.index.json") {
			index = n
		}
	}
	if index != "" {
		return nil, fmt.Sprintf("%s: this folder holds a sharded checkpoint. The playground merges single-file checkpoints; merge sharded ones with the ladle command (ladle merge recipe.yaml -o merged.safetensors), which reads the folder.", index)
	}
	for i, n := range names {
		if checkpointExt(n) {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 && len(names) > 0 {
		return nil, "The chosen folder holds no checkpoint files (.safetensors, .pt, .pth, .bin, .ckpt, .gguf, .npz, .npy)."
	}
	return keep, ""
}
