// Package ui is the playground page: Vugu components over the pure-Go state of
// ladle/ui/state. Each component is a .vugu file compiled by vugugen into
// <name>_gen.go (committed, gofmt'ed); its Go type and helpers are in components.go.
// Regenerate after editing a .vugu file:
//
//	go tool vugugen -skip-go-mod -skip-main ui && gofmt -w ui/*_gen.go
//
// Components (all share one *Page: the state and the Host):
//
//   - Root: the layout (labs on top; models and method; merge and recipe).
//   - Files: the drop zone, the file picker (data-testid=file-input) and a folder
//     picker (webkitdirectory; checkpoints of the folder are kept, and a sharded
//     safetensors folder is one model named after the folder), and the model list (data-testid=model-list): each
//     file's format, tensors, parameters, dtypes, size, its per-model parameters, and
//     the compatibility summary with the tensors that do not line up.
//   - Method: the method picker (data-testid=method-select), the method's summary and
//     paper, the base model when the method needs one, and the global parameter form
//     built from the registry (defaults as placeholders, ranges, docs).
//   - Field: one parameter input.
//   - Recipe: the recipe editor (data-testid=recipe-editor) with import and export.
//   - RunPanel: Run, Cancel, the progress bar, the status line (aria-live), the error
//     box (data-testid=error; hidden while nothing is wrong) and Download
//     (data-testid=download; an href only once a result exists).
//   - Labs and Chart: the labs gallery (data-testid=lab-<name>) and the open lab's
//     accuracy table and interpolation chart (inline SVG laid out by
//     state.CurveChart). The lab files' format is documented on state.Labs and in
//     public/labs/README.md.
//
// Rules: no inline styles or scripts (the page's CSP has style-src 'self'): every look
// is a class of public/css/ladle.css; form controls take their values as JS properties
// (.value, .checked, .selected) so that re-rendering never fights the person typing;
// components only render state and forward events, to state methods or to the Host,
// which does everything that needs the browser (ladle/wasm/app). A native test renders
// the page with vugu's staticrender and checks the hooks and the CSP rules.
package ui
