"""The same merges as `ladle bench`, in numpy over memory-mapped inputs.

Usage: python3 bench_numpy.py METHOD DENSITY OUT BASE MODEL...
Prints one JSON line: {"method", "seconds", "bytes_read", "max_rss"}.
linear: uniform average of the models. ties: trim each task vector to its
floor(density*n) largest magnitudes, elect the sign of the sum, average the agreeing
entries (normalize true, lambda 1), as in mergekit's TIES with numpy instead of torch.
"""
import json, resource, struct, sys, time
import numpy as np


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return 8 + n, h


def tensors(path):
    base, h = header(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, e in h.items():
        s, t = e["data_offsets"]
        out[name] = mm[base + s:base + t].view(np.float32)
    return out, h


def ties(base, xs, density):
    deltas = np.stack([x - base for x in xs])
    k = int(np.floor(density * base.size))
    if k < base.size:
        mags = np.abs(deltas)
        for i in range(len(xs)):
            if k == 0:
                deltas[i] = 0
                continue
            thresh = np.partition(mags[i], base.size - k)[base.size - k]
            deltas[i][mags[i] < thresh] = 0
    sign = np.where(deltas.sum(axis=0) >= 0, 1.0, -1.0).astype(np.float32)
    agree = (np.sign(deltas) == sign) & (deltas != 0)
    mixed = (deltas * agree).sum(axis=0)
    count = agree.sum(axis=0).astype(np.float32)
    count[count == 0] = 1
    return base + mixed / count


def main():
    method, density, out_path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    paths = sys.argv[4:]
    start = time.perf_counter()
    loaded = [tensors(p) for p in paths]
    base, h = loaded[0]
    models = [m for m, _ in loaded[1:]]
    read = 0
    with open(out_path, "wb") as out:
        for name in h:
            if method == "linear":
                acc = np.zeros(models[0][name].shape, dtype=np.float32)
                for m in models:
                    acc += m[name]
                    read += m[name].nbytes
                res = acc / np.float32(len(models))
            else:
                res = ties(base[name], [m[name] for m in models], density)
                read += base[name].nbytes * (len(models) + 1)
            out.write(res.astype(np.float32).tobytes())
    secs = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"method": method, "seconds": secs, "bytes_read": read, "max_rss": rss}))


main()
