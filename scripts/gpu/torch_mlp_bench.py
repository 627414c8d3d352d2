"""PyTorch side of bench/gpu-mlp: the same MLP (read from the same safetensors file, parsed
here without the safetensors package) and the same batch sizes, fp32 with TF32 disabled.

usage: torch_mlp_bench.py WEIGHTS.safetensors OUT.json BATCHES(e.g. 1,2,4) MIN_SECONDS
Per batch size: host->host throughput (input copied to the GPU, forward, output copied back,
pageable memory as the TypeScript side uses) and the forward alone timed with CUDA events.
"""
import json
import struct
import sys
import time

import torch


def load_mlp(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", name
        begin, end = meta["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(meta["shape"])
    layers = []
    i = 0
    while f"layers.{i}.weight" in tensors:
        w = tensors[f"layers.{i}.weight"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(tensors[f"layers.{i}.bias"])
        layers.append(lin)
        i += 1
    seq = []
    for j, lin in enumerate(layers):
        seq.append(lin)
        if j < len(layers) - 1:
            seq.append(torch.nn.ReLU())
    return torch.nn.Sequential(*seq), layers[0].in_features


def main():
    weights, out, batches_arg, min_seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    model, features = load_mlp(weights)
    model = model.cuda().eval()
    rows = []
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for batch in [int(b) for b in batches_arg.split(",")]:
            x = torch.rand(batch, features, generator=gen) * 2 - 1
            for _ in range(5):
                model(x.cuda()).cpu()
            torch.cuda.synchronize()
            iters = 0
            start = time.perf_counter()
            while True:
                model(x.cuda()).cpu()
                iters += 1
                elapsed = time.perf_counter() - start
                if (elapsed >= min_seconds and iters >= 10) or iters >= 2000:
                    break
            xd = x.cuda()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(iters):
                model(xd)
            e.record()
            torch.cuda.synchronize()
            rows.append({
                "batch": batch,
                "iters": iters,
                "hostToHostUs": elapsed / iters * 1e6,
                "samplesPerSecond": batch * iters / elapsed,
                "computeUs": s.elapsed_time(e) / iters * 1e3,
            })
            print(f"torch batch {batch}: {rows[-1]['samplesPerSecond']:.0f} samples/s", file=sys.stderr, flush=True)
    result = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
        "rows": rows,
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
