// Package eval measures models on labelled datasets: accuracy, mean loss,
// interpolation curves and loss barriers (METHODS.md), and it imports datasets.
//
// Datasets. A dataset file is a safetensors file holding x (N × sample shape, U8 or a
// float type; bytes stay bytes in memory) and y (N, an integer type; I64 when written
// here). One file may hold several splits: the default split is x and y, split NAME is
// x.NAME and y.NAME (e.g. x.val, y.val); Splits lists them. The metadata key
// "ladle.classes" may name the classes (a JSON list). ImportIDX reads MNIST's IDX files
// (gzip or not), ImportCSV a table with one labelled sample per row; WriteFile and
// Encode write datasets, LoadDataset, LoadSplit and FromSource read them.
//
// Evaluation. Evaluate runs a model over a dataset: a sample fits the model when it
// has as many values as the model's input_shape (a [28, 28] image fits [1, 28, 28]);
// raw values go in unscaled, the spec's input_scale and normalize apply. Accuracy
// counts samples whose largest output is at the label. Loss is the mean negative
// log-likelihood of the label, read according to the model's last layer: after
// log_softmax the output is used as is, after softmax its log is taken, otherwise the
// output is logits and log_softmax is applied first.
//
// Interpolation. Interpolate evaluates (1 − α)·θA + α·θB on a grid of at least 11
// points including both ends and reports the curve and the loss barrier
// max over α of L(α) − ((1 − α)·L(0) + α·L(1)). Average is the uniform soup of models
// given as tensor maps.
//
// Invariants (each has tests):
//
//   - Honest errors. Hostile or inconsistent datasets (x and y of different lengths,
//     negative or non-integer labels, labels beyond the model's outputs, samples of the
//     wrong size, truncated or oversized IDX files, malformed CSV) end in an error that
//     names the file, the tensor or line, and the value. An IDX header cannot make the
//     importer allocate more than the data actually present. A model whose output is
//     not finite on some sample is an error, never a NaN score.
//
//   - Determinism. Losses are summed in float64 in sample order, so results do not
//     depend on the batch size or the number of threads (see package nn).
//
//   - Outputs appear whole. WriteFile writes to a temporary file renamed on success.
//
//   - Portable: no file system access except in LoadDataset, LoadSplit and WriteFile;
//     the browser uses FromSource and Encode.
package eval
