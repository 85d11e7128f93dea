"""Executes a notebook headless (nbclient, a real ipykernel) that uses the memlens IPython extension, and
prints each cell's outputs as JSON for test/pip/notebook.test.ts."""

import json
import sys

import nbformat
from nbclient import NotebookClient

CELLS = [
    "%load_ext memlens",
    # Full capture; the report shows the allocations live at the peak.
    "%%memlens\n"
    "def make_buffers():\n"
    "    out = []\n"
    "    for _ in range(30):\n"
    "        out.append(bytearray(100000))\n"
    "    return out\n"
    "held = make_buffers()\n",
    # What is still live at the end, with native stacks and every Python allocation.
    "%%memlens --leaks --native --trace-python-allocators -o " + sys.argv[1] + "\n"
    "def keep_in_cell():\n"
    "    return [bytearray(200000) for _ in range(10)]\n"
    "kept = keep_in_cell()\n",
    "%memlens_census --rows 5",
    "%%memlens --bogus\nx = 1\n",
    "%%memlens\nraise ValueError('the cell fails')\n",
]

nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True).execute()
out = []
for cell in nb.cells:
    items = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind in ("display_data", "execute_result"):
            items.append({"kind": kind, "html": o["data"].get("text/html", ""), "text": o["data"].get("text/plain", "")})
        elif kind == "stream":
            items.append({"kind": "stream", "name": o["name"], "text": o["text"]})
        elif kind == "error":
            items.append({"kind": "error", "ename": o["ename"], "evalue": o["evalue"]})
    out.append(items)
print(json.dumps(out))
