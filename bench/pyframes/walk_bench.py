"""Times pyframes.c's walk at several stack depths and its code-text conversion, inside this Python.
Usage: python walk_bench.py PROBE.so   (prints JSON; run by bench/pyframes-walk.ts)"""
import ctypes
import json
import sys

LIB = ctypes.CDLL(sys.argv[1])
LIB.probe_init.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t]
LIB.probe_bench_walk.argtypes = [ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
LIB.probe_bench_walk.restype = ctypes.c_uint64
LIB.probe_bench_code_text.argtypes = [ctypes.c_uint64, ctypes.c_size_t]
LIB.probe_bench_code_text.restype = ctypes.c_uint64
err = ctypes.create_string_buffer(256)
if LIB.probe_init(sys.hexversion, err, 256) != 0:
    sys.exit('init failed: ' + err.value.decode())

ITER = 200_000
results = []


def at_depth(n, target, cap):
    if n > 0:
        return at_depth(n - 1, target, cap)
    depth = ctypes.c_size_t()
    best = min(LIB.probe_bench_walk(ITER, cap, ctypes.byref(depth)) for _ in range(5))
    results.append({'depth': depth.value, 'cap': cap, 'ns_per_walk': best / ITER})


base = len(__import__('traceback').extract_stack())
for target in (1, 10, 50, 200):
    at_depth(max(0, target - base - 1), target, 128)
at_depth(200, 200, 16)


def some_function_with_a_name():
    pass


code = some_function_with_a_name.__code__
text_ns = min(LIB.probe_bench_code_text(id(code), ITER) for _ in range(5)) / ITER
print(json.dumps({'version': '.'.join(map(str, sys.version_info[:3])), 'walks': results, 'code_text_ns': text_ns}))
