//go:build js && wasm

package jsutil

import (
	"errors"
	"syscall/js"
)

type settled struct {
	v   js.Value
	err error
}

// Await waits for a Promise (or any thenable) and returns its value, or its rejection
// as an error. A value that is not a thenable is returned as it is. It blocks the
// calling goroutine only; never call it from inside a js.FuncOf callback.
func Await(p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	ch := make(chan settled, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- settled{v: v}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ch <- settled{err: JSError(v)}
		return nil
	})
	p.Call("then", then, catch)
	r := <-ch
	then.Release()
	catch.Release()
	return r.v, r.err
}

// JSError turns a thrown JS value into a Go error with its message.
func JSError(v js.Value) error {
	if v.Type() == js.TypeObject {
		if msg := v.Get("message"); msg.Type() == js.TypeString {
			name := v.Get("name")
			if name.Type() == js.TypeString && name.String() != "" && name.String() != "Error" {
				return errors.New(name.String() + ": " + msg.String())
			}
			return errors.New(msg.String())
		}
	}
	return errors.New(js.Global().Call("String", v).String())
}

// Try calls fn and turns a thrown JS exception into an error.
func Try(fn func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if jerr, ok := r.(js.Error); ok {
				err = JSError(jerr.Value)
				return
			}
			panic(r)
		}
	}()
	return fn(), nil
}
