// Package state is the playground's UI state in pure Go: the dropped models and their
// compatibility, the chosen method and its parameter form (built from the method
// registry), the recipe text that Run uses, and the run's progress, result and errors.
// The Vugu components only render this state and forward events to it, so everything
// a person can do in the page is tested natively with `go test`.
//
// Invariants:
//
//   - The recipe text is the single source of truth for Run: form edits regenerate it,
//     and editing the text directly (valid YAML or not) is kept as typed; a recipe that
//     does not parse shows its error and disables Run.
//   - Form values are kept as the text a person typed, checked against the parameter's
//     type and range, so a half-typed number never turns into a silent default.
//   - The recipe check is the command's (plan.Check, in its words) besides the page's
//     own (models loaded and lining up, the evaluator's dataset). The page program
//     links neither the planner nor the methods: the registry comes as data
//     (core/merge/info) and the command's check is asked of an engine worker
//     (Verifying, OnVerified; Run waits for the answer); native code sets Verify to
//     plan.Check to run it at once.
//   - Messages shown to people are plain words: what is wrong and what to do.
//     Errors lists everything the page's error box shows (a failed run, unreadable
//     files, a notice, a recipe that cannot run); a fresh page has a Hint, no error.
//
// Besides the models, form and run, the state holds the bundled labs (Labs: the
// index, the open lab and its numbers, with the JSON format of public/labs), the
// geometry of a lab's interpolation chart (CurveChart) and the aggregation of a merge
// split over several engine workers (Parts, WorkerCount).
package state
