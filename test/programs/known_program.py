import threading
import numpy as np

def load_matrix(n):
    return np.ones((n, n))          # 8 * n * n bytes: the largest allocation

def build_cache():
    return {i: [i] * 8 for i in range(50_000)}

def read_chunks():
    return [bytearray(1 << 20) for _ in range(20)]   # 20 MiB in another thread

def main():
    chunks = []
    t = threading.Thread(target=lambda: chunks.append(read_chunks()), name="loader")
    t.start(); t.join()
    cache = build_cache()
    matrix = load_matrix(4096)      # 128 MiB
    return matrix.sum() + len(cache) + len(chunks)

main()
