"""The attacker of test/security/container-attach-files.test.ts, run in the container as the target's user:
works on the attach directory of PID between memlens attach and memlens detach.

    links PID HOSTPATH      every file memlens writes or reads there becomes a link to HOSTPATH (a host path:
                            meaningless in the container, the host's own file if memlens follows it)
    swap-dir PID HOSTPATH   the directory is moved aside and a link to HOSTPATH takes its name
    status PID -            the attach script (the target's own file) is replaced by one whose status line
                            holds terminal escapes and a direction override
"""
import glob
import os
import sys

pid, what, host_path = sys.argv[1], sys.argv[2], sys.argv[3]
(directory,) = glob.glob("/tmp/memlens-attach-%s-*" % pid)
if what == "links":
    names = ["request.json", "remote_exec.py", "status", "cancelled", "capture.mlens", "census.json", "state.json"]
    for name in names:
        path = os.path.join(directory, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.symlink(host_path, path)
    print("planted", sorted(os.listdir(directory)))
elif what == "swap-dir":
    os.rename(directory, directory + ".moved")
    os.symlink(host_path, directory)
    print("swapped", directory)
elif what == "status":
    hostile = "error: \x1b]0;owned\x07\x1b[2J\u202eevil"
    script = "open(%r, 'w').write(%r)\n" % (os.path.join(directory, "status"), hostile)
    os.unlink(os.path.join(directory, "memlens_attach.py"))
    with open(os.path.join(directory, "memlens_attach.py"), "w") as f:
        f.write(script)
    print("replaced the attach script")
else:
    sys.exit("unknown attack " + what)
