package plan

import (
	"strings"

	"ladle/core/merge"
	"ladle/core/recipe"
)

// Check makes the checks of Prepare that need no file: the method is known, the base
// and the number of models fit it, every parameter is one it takes with an acceptable
// value (on every model, every gradient point), required ones are set, a method that
// evaluates candidates has its ladle.eval, and the `ladle:` options and dtypes apply. The page runs it as a recipe is typed, so that the editor
// says what Run would say, with the same words.
func Check(r *recipe.Recipe) error {
	m, ok := merge.Lookup(r.MergeMethod)
	if !ok {
		return errorf("merge_method", "unknown method %q%s; known methods: %s", r.MergeMethod,
			recipe.DidYouMean(r.MergeMethod, merge.Names()), strings.Join(merge.Names(), ", "))
	}
	p := &Plan{Recipe: r, Method: m}
	for _, step := range []func() error{p.checkModels, p.checkParams, p.checkOptions, p.checkEval, p.checkDTypes} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
