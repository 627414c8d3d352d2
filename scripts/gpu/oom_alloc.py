"""Fills GPU memory in steps towards out-of-memory, holds it, then frees it: the workload the
OOM traces record. Only torch is needed.

usage: oom_alloc.py FILL_SECONDS TOTAL_SECONDS
Allocates every 0.5 s an equal share of (free memory - headroom) so that memory is near full
after FILL_SECONDS, holds until 5 s before TOTAL_SECONDS, frees everything, idles to the end.
Prints one line per phase with the epoch time in ms, so a trace can be lined up with it.
"""
import sys
import time

import torch


def log(phase, **fields):
    extra = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"oom_alloc {int(time.time() * 1000)} {phase} {extra}", flush=True)


def main():
    fill_s, total_s = float(sys.argv[1]), float(sys.argv[2])
    start = time.time()
    free, total = torch.cuda.mem_get_info()
    headroom = max(512 << 20, int(total * 0.02))
    target = max(0, free - headroom)
    steps = max(1, int(fill_s / 0.5))
    chunk = target // steps
    log("start", free=free, total=total, target=target, steps=steps, chunk=chunk)
    held = []
    for i in range(steps):
        t = torch.empty(chunk, dtype=torch.uint8, device="cuda")
        t.fill_(1)
        held.append(t)
        time.sleep(max(0.0, start + (i + 1) * 0.5 - time.time()))
    torch.cuda.synchronize()
    log("full", allocated=torch.cuda.memory_allocated(), free=torch.cuda.mem_get_info()[0])
    time.sleep(max(0.0, start + total_s - 5 - time.time()))
    held.clear()
    torch.cuda.empty_cache()
    log("freed", free=torch.cuda.mem_get_info()[0])
    time.sleep(max(0.0, start + total_s - time.time()))
    log("end")


if __name__ == "__main__":
    main()
