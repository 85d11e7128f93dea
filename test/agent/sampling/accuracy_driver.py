"""Seeded sampling sessions of one known workload, in one process (test/agent/sampling-accuracy.test.ts).

usage: accuracy_driver.py AGENT_SO HELPER_SO BOOTSTRAP_DIR OUT_DIR RATE FIRST_SEED RUNS

Writes OUT_DIR/exact.mlens (every allocation: the ground truth) and OUT_DIR/seed-N.mlens for each seed,
each a session of the agent (memlens_agent.AgentSession, the API the bootstrap uses) around the same
allocations. Sessions are independent runs: the sampler draws from the seed alone, and the program does the
same thing in each.
"""
import ctypes
import os
import sys

agent_so, helper_so, bootstrap_dir, out_dir, rate, first_seed, runs = sys.argv[1:8]
rate, first_seed, runs = int(rate), int(first_seed), int(runs)
sys.path.insert(0, bootstrap_dir)
import memlens_agent  # noqa: E402

lib = ctypes.CDLL(helper_so)
lib.alloc_blocks.restype = ctypes.c_void_p
lib.alloc_blocks.argtypes = [ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t]
lib.release.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

KIB, MIB = 1024, 1024 * 1024
SITES = {
    # name: (blocks, sizes cycled)
    "site_small": (32768, [512]),  # 16 MiB allocated, 8 MiB kept: blocks far below the rate
    "site_medium": (2048, [32 * KIB]),  # 64 MiB, 32 MiB kept
    "site_mixed": (120, [KIB, 16 * KIB, 256 * KIB, MIB, 3 * MIB]),  # 102 MiB, 51 MiB kept: below, near and above the rate
    "site_large": (8, [8 * MIB]),  # 64 MiB, 32 MiB kept: always recorded
    "site_tiny": (2048, [512]),  # 1 MiB: below the floor's 8 MiB, not checked
}
ARRAYS = {name: (ctypes.c_size_t * len(sizes))(*sizes) for name, (n, sizes) in SITES.items()}
HELD = []


def site_small():
    HELD.append((lib.alloc_blocks(SITES["site_small"][0], ARRAYS["site_small"], 1), SITES["site_small"][0]))


def site_medium():
    HELD.append((lib.alloc_blocks(SITES["site_medium"][0], ARRAYS["site_medium"], 1), SITES["site_medium"][0]))


def site_mixed():
    HELD.append((lib.alloc_blocks(SITES["site_mixed"][0], ARRAYS["site_mixed"], 5), SITES["site_mixed"][0]))


def site_large():
    HELD.append((lib.alloc_blocks(SITES["site_large"][0], ARRAYS["site_large"], 1), SITES["site_large"][0]))


def site_tiny():
    HELD.append((lib.alloc_blocks(SITES["site_tiny"][0], ARRAYS["site_tiny"], 1), SITES["site_tiny"][0]))


def workload():
    site_small()
    site_medium()
    site_mixed()
    site_large()
    site_tiny()


agent = memlens_agent.AgentSession(agent_so)
words = ["accuracy_driver.py"]


def session(path, extra):
    try:
        agent.start(path, argv=words, overwrite=True, memory_interval_ms=1000, mode="run", script="accuracy_driver.py", **extra)
    except memlens_agent.AgentError as e:
        sys.exit("memlens: cannot start tracking: %s" % e)
    workload()
    agent.stop()
    for keep, n in HELD:
        lib.release(keep, n)
    del HELD[:]


session(os.path.join(out_dir, "exact.mlens"), {})
for seed in range(first_seed, first_seed + runs):
    session(os.path.join(out_dir, "seed-%d.mlens" % seed), {"sample_rate": rate, "sample_exact": 4 * rate, "sample_seed": seed})
print("ok")
