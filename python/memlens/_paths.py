"""Where the files this package ships are: the CLI bundle, the agent and its Python side.

_payload/ is laid out as the npm package is (bin/, dist/viewer/, agent/build/, agent/python/), so the CLI
finds its files the same way in both (src/util/package-root.ts).
"""

import os

PAYLOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_payload")
CLI_SCRIPT = os.path.join(PAYLOAD, "bin", "memlens.js")
AGENT_LIBRARY = os.path.join(PAYLOAD, "agent", "build", "libmemlens_agent.so")
AGENT_PYTHON_DIR = os.path.join(PAYLOAD, "agent", "python")
