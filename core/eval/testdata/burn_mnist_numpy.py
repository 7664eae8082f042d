"""The burn-mnist forward pass in numpy, to compare with BenchmarkEvalBurnMNIST.

Usage: python3 burn_mnist_numpy.py WEIGHTS.safetensors T10K-IMAGES.gz T10K-LABELS.gz [BATCH]
Prints one JSON line: {"n", "accuracy", "loss", "seconds", "images_per_s"}.

The model (tracel-ai/burn's MNIST example): conv 1->8->16->24 (3x3, each then relu),
batchnorm2d(24), flatten, linear 11616->32, relu, linear 32->10, batchnorm1d(10),
log_softmax. Input: pixels / 255, then (x - 0.1307) / 0.3081. Convolutions are im2col
(sliding_window_view) followed by one matrix product per batch, so the time is spent in
numpy's BLAS, as in a typical numpy implementation. Only loading is left out of the timing.
"""
import gzip, json, struct, sys, time
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            continue
        s, t = e["data_offsets"]
        out[name] = np.frombuffer(data[s:t], dtype=np.float32).reshape(e["shape"])
    return out


def load_idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    magic, n = struct.unpack(">II", b[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", b[8:16])
        return np.frombuffer(b[16:], dtype=np.uint8).reshape(n, 1, rows, cols)
    return np.frombuffer(b[8:], dtype=np.uint8).astype(np.int64)


def conv2d(x, w, b):
    # x [N, C, H, W], w [O, C, kh, kw] -> [N, O, H-kh+1, W-kw+1]
    o, c, kh, kw = w.shape
    win = sliding_window_view(x, (kh, kw), axis=(2, 3))  # [N, C, OH, OW, kh, kw]
    n, _, oh, ow = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    y = cols @ w.reshape(o, -1).T + b  # [N*OH*OW, O]
    return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)


def batchnorm(x, p, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = p["weight"] / np.sqrt(p["running_var"] + eps)
    return (x - p["running_mean"].reshape(shape)) * scale.reshape(shape) + p["bias"].reshape(shape)


def forward(t, images):
    x = (images.astype(np.float32) / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    x = np.maximum(conv2d(x, t["conv1.weight"], t["conv1.bias"]), 0)
    x = np.maximum(conv2d(x, t["conv2.weight"], t["conv2.bias"]), 0)
    x = np.maximum(conv2d(x, t["conv3.weight"], t["conv3.bias"]), 0)
    x = batchnorm(x, {k: t["norm1." + k] for k in ("weight", "bias", "running_mean", "running_var")})
    x = x.reshape(x.shape[0], -1)
    x = np.maximum(x @ t["fc1.weight"].T + t["fc1.bias"], 0)
    x = x @ t["fc2.weight"].T + t["fc2.bias"]
    x = batchnorm(x, {k: t["norm2." + k] for k in ("weight", "bias", "running_mean", "running_var")})
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def main():
    weights, images_gz, labels_gz = sys.argv[1:4]
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    t = load_safetensors(weights)
    images, labels = load_idx(images_gz), load_idx(labels_gz)
    start = time.perf_counter()
    correct, loss = 0, 0.0
    for i in range(0, len(images), batch):
        out = forward(t, images[i:i + batch])
        y = labels[i:i + batch]
        correct += int((out.argmax(axis=1) == y).sum())
        loss -= float(out[np.arange(len(y)), y].astype(np.float64).sum())
    secs = time.perf_counter() - start
    n = len(images)
    print(json.dumps({"n": n, "accuracy": correct / n, "loss": loss / n, "seconds": secs,
                      "images_per_s": n / secs}))


if __name__ == "__main__":
    main()
