//go:build js && wasm

// Command app is the playground page: it mounts the Vugu components of package
// ladle/ui into <div id="ladle-app"> and implements ui.Host over the browser. It is
// built to app.wasm and started by public/app.js.
//
// The page thread only renders and routes messages (DESIGN invariant 5): every file is
// inspected and every merge runs in the engine workers (engine.js, package
// ladle/wasm/engine), one per logical core up to state.MaxWorkers, started when the
// page loads so that a merge makes no network request (invariant 4). A merge whose
// method allows it is split by tensor over all the workers (the protocol's part
// {index, count}) and the parts are joined in order into one Blob, byte for byte the
// file one worker writes; a method that cannot be split (the engine answers an error
// whose where is "part") runs again on one worker.
//
// Vugu's domrender installs its DOM helpers with eval, which the page's
// Content-Security-Policy forbids; index.html loads the same helpers from
// vugu-render.js (a copy checked by a test in package ui), and eval is swapped for a
// no-op while domrender.New runs.
package main

import (
	"syscall/js"

	"github.com/vugu/vugu"
	"github.com/vugu/vugu/domrender"

	"ladle/core/merge/info"
	"ladle/ui"
	"ladle/ui/state"
)

func main() {
	win := js.Global()
	if win.Get("vuguRender").Type() != js.TypeFunction {
		bootError("vugu-render.js did not load, so the page cannot draw itself. Reload the page.")
		return
	}
	renderer, err := newRenderer("#ladle-app")
	if err != nil {
		bootError("The page could not start its renderer: " + err.Error())
		return
	}
	defer renderer.Release()
	env := renderer.EventEnv()
	buildEnv, err := vugu.NewBuildEnv(env)
	if err != nil {
		bootError("The page could not start its renderer: " + err.Error())
		return
	}
	methods, err := info.Registry() // the registry's description, without its methods' code
	if err != nil {
		bootError("The page could not read its method registry: " + err.Error())
		return
	}
	app := state.New(methods)
	h := newHost(env, app)
	root := ui.NewRoot(app, h)
	h.page = root.P
	h.page.Eval = h
	h.start()
	for ok := true; ok; ok = renderer.EventWait() {
		env.RLock()
		results := buildEnv.RunBuild(root)
		env.RUnlock()
		if err := renderer.Render(results); err != nil {
			bootError("The page could not draw itself: " + err.Error())
			return
		}
		env.Lock()
		focus := root.P.Focus
		root.P.Focus = ""
		verify := app.Verifying
		env.UnlockOnly()
		h.check(verify)
		if focus != "" {
			if el := js.Global().Get("document").Call("querySelector", focus); !el.IsNull() {
				el.Call("focus")
			}
		}
	}
}

// newRenderer is domrender.New with window.eval swapped for a no-op: the helpers it
// would install are already there (vugu-render.js), and the CSP forbids eval.
func newRenderer(mount string) (r *domrender.JSRenderer, err error) {
	win := js.Global()
	eval := win.Get("eval")
	noop := js.FuncOf(func(js.Value, []js.Value) any { return nil })
	win.Set("eval", noop)
	defer func() {
		win.Set("eval", eval)
		noop.Release()
		if p := recover(); p != nil {
			r, err = nil, errorf("%v", p)
		}
	}()
	return domrender.New(mount)
}

// bootError shows a message in place of the page.
func bootError(msg string) {
	doc := js.Global().Get("document")
	el := doc.Call("getElementById", "ladle-app")
	if el.IsNull() {
		el = doc.Get("body")
	}
	p := doc.Call("createElement", "p")
	p.Set("className", "ladle-boot ladle-boot-error")
	p.Set("textContent", msg)
	el.Call("replaceChildren", p)
}
