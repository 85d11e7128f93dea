# Allocates and frees small buffers for a while, so that its capture grows by megabytes, then prints what
# it computed and exits with status 3: test/full-disk.test.ts runs it with its capture on a tiny file
# system, where the disk fills up long before the program ends, and checks that the program was unharmed.
import sys

kept = []
total = 0
for i in range(int(sys.argv[1])):
    b = bytearray(64 + i % 500)
    total += len(b)
    kept.append(b)
    if i % 1000 == 0:
        kept = kept[-500:]
print("program done", total, flush=True)
sys.exit(3)
