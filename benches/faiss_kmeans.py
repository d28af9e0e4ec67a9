"""faiss k-means on the vectors `crossthemes bench-scale --save DIR` wrote,
at the k crossthemes chose, for a side-by-side time.

usage: python3 benches/faiss_kmeans.py DIR [N ...]
Needs: pip install faiss-cpu numpy
"""
import os
import resource
import sys
import time

import faiss
import numpy as np


def main():
    folder = sys.argv[1]
    sizes = sys.argv[2:] or sorted(
        f[len("vectors-"):-len(".npy")] for f in os.listdir(folder) if f.startswith("vectors-")
    )
    threads = os.cpu_count()
    faiss.omp_set_num_threads(threads)
    print(f"faiss {faiss.__version__}, {threads} threads, niter=25 (faiss's default), seed 42")
    print("| paragraphs | k | faiss train (s) | train + assign all (s) | peak memory (MB) |")
    print("|---|---|---|---|---|")
    for n in sizes:
        x = np.load(os.path.join(folder, f"vectors-{n}.npy"))
        k = int(open(os.path.join(folder, f"k-{n}.txt")).read())
        started = time.perf_counter()
        km = faiss.Kmeans(x.shape[1], k, niter=25, seed=42)
        km.train(x)
        trained = time.perf_counter() - started
        km.index.search(x, 1)
        total = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {n} | {k} | {trained:.2f} | {total:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
