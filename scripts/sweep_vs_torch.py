"""fastconv against torch on 23 convolutions beyond the bench's standard table.

    TH=1 python scripts/sweep_vs_torch.py [name-substring ...]   # TH: threads (1)
    SEC=2 ...                                                    # seconds per shape (1)

Each call is checked against torch first; then fastconv (writing a preallocated
``out``) and torch are called alternately for SEC seconds and the medians are
printed with torch time / fastconv time (> 1: fastconv faster).  The table of
docs/families/performance.rst ("Beyond the standard workloads") comes from it.
"""
import os, sys, time, numpy as np, numba
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch, fastconv
th = int(os.environ.get("TH", "1")); numba.set_num_threads(th); torch.set_num_threads(th)
F = torch.nn.functional
CASES = {
 "dw3x3 s1 (1,384,28,28)": ((1,384,28,28),(384,1,3,3),dict(padding=1,groups=384)),
 "dw5x5 (1,96,56,56)": ((1,96,56,56),(96,1,5,5),dict(padding=2,groups=96)),
 "dw7x7 (1,96,56,56)": ((1,96,56,56),(96,1,7,7),dict(padding=3,groups=96)),
 "dw7x7 (1,192,28,28)": ((1,192,28,28),(192,1,7,7),dict(padding=3,groups=192)),
 "dw7x7 (1,384,14,14)": ((1,384,14,14),(384,1,7,7),dict(padding=3,groups=384)),
 "dw5x5 s2 (1,240,28,28)": ((1,240,28,28),(240,1,5,5),dict(stride=2,padding=2,groups=240)),
 "dw3x3 s2 (1,96,112,112)": ((1,96,112,112),(96,1,3,3),dict(stride=2,padding=1,groups=96)),
 "dw3x3 d2 (1,128,56,56)": ((1,128,56,56),(128,1,3,3),dict(padding=2,dilation=2,groups=128)),
 "dw3x3 p0 (1,128,56,56)": ((1,128,56,56),(128,1,3,3),dict(groups=128)),
 "dw1x1 (1,128,28,28)": ((1,128,28,28),(128,1,1,1),dict(groups=128)),
 "g64 3x3 (1,128,28,28)": ((1,128,28,28),(128,2,3,3),dict(padding=1,groups=64)),
 "3x3 (8,512,7,7)": ((8,512,7,7),(512,512,3,3),dict(padding=1)),
 "3x3 (4,512,7,7)": ((4,512,7,7),(512,512,3,3),dict(padding=1)),
 "3x3 (1,256,14,14)": ((1,256,14,14),(256,256,3,3),dict(padding=1)),
 "1x7 (1,128,17,17)": ((1,128,17,17),(128,128,1,7),dict(padding=(0,3))),
 "7x1 (1,128,17,17)": ((1,128,17,17),(128,128,7,1),dict(padding=(3,0))),
 "5x5 (1,32,56,56)->64": ((1,32,56,56),(64,32,5,5),dict(padding=2)),
 "3x3 s2 (1,256,28,28)": ((1,256,28,28),(256,256,3,3),dict(stride=2,padding=1)),
 "1x1 (8,2048,7,7)->512": ((8,2048,7,7),(512,2048,1,1),{}),
 "3x3 c3->16 (1,3,512,512)": ((1,3,512,512),(16,3,3,3),dict(padding=1)),
 "1d k3 s2 (2,128,4096)": ((2,128,4096),(128,128,3),dict(stride=2,padding=1)),
 "1d k5 (8,64,4096)": ((8,64,4096),(64,64,5),dict(padding=2)),
 "3d k3 (2,16,16,16,16)": ((2,16,16,16,16),(16,16,3,3,3),dict(padding=1)),
}
only = sys.argv[1:]
for name, (xs, ws, kw) in CASES.items():
    if only and not any(o in name for o in only): continue
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32); w = rng.standard_normal(ws).astype(np.float32)
    nd = len(xs) - 2
    fc = {1: fastconv.conv1d, 2: fastconv.conv2d, 3: fastconv.conv3d}[nd]
    tf = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    tx, tw = torch.from_numpy(x), torch.from_numpy(w)
    ref = tf(tx, tw, **kw).numpy()
    out = np.empty_like(ref)
    r = fc(x, w, out=out, **kw)
    assert np.allclose(r, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max()), name
    fns = [lambda: fc(x, w, out=out, **kw), lambda: tf(tx, tw, **kw)]
    ts = [[], []]
    t_end = time.perf_counter() + float(os.environ.get("SEC", "1.0"))
    while time.perf_counter() < t_end:
        for i, f in enumerate(fns):
            t = time.perf_counter(); f(); ts[i].append(time.perf_counter() - t)
    a, b = (np.median(t) * 1e3 for t in ts)
    print(f"{name:28s} th{th} fastconv {a:8.3f}  torch {b:8.3f} ms  {b/a:5.2f}x", flush=True)
