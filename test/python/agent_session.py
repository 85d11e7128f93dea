# memlens_agent's public surface from a plain Python program: start tracking into a file in this
# interpreter, stop, a nested start refused with a clear error, quiet, a second session after the first.
# Usage: python agent_session.py AGENT_PYTHON_DIR LIBRARY OUT1 OUT2; prints one "name: value" per fact.
import sys

sys.path.insert(0, sys.argv[1])
import memlens_agent  # noqa: E402

library, out1, out2 = sys.argv[2], sys.argv[3], sys.argv[4]


def fact(name, value):
    print("%s: %s" % (name, value), flush=True)


session = memlens_agent.AgentSession(library)
fact("active before start", session.active)
fact("current before start", memlens_agent.current())
try:
    session.start(out1, colour="blue")
except TypeError as e:
    fact("unknown option", e)
session.wrap_threading()
session.start(out1, argv=["agent_session.py", "first"])
fact("active", session.active)
fact("current is the session", memlens_agent.current() is session)
fact("output", session.output == out1)

KEEP = [bytearray(1_111_111)]  # recorded


def quiet_region():
    session.quiet(True)
    try:
        return bytearray(2_222_222)  # not recorded: quiet
    finally:
        session.quiet(False)


KEEP.append(quiet_region())

try:
    memlens_agent.AgentSession(library).start(out2)
except memlens_agent.AgentError as e:
    fact("nested start", e)
try:
    session.start(out2)
except memlens_agent.AgentError as e:
    fact("same session again", e)

stopped = []
session.at_stop(lambda: stopped.append(True))
session.stop()
fact("active after stop", session.active)
fact("at_stop ran", stopped == [True])
session.stop()  # a second stop does nothing
fact("current after stop", memlens_agent.current())
KEEP.append(bytearray(3_333_333))  # not recorded: stopped
session.unwrap_threading()

second = memlens_agent.AgentSession(library)
second.start(out2, argv=["agent_session.py", "second"])
session.stop()  # the first session is over: this leaves the second one running
fact("first session active", session.active)
fact("second session active", second.active)
KEEP.append(bytearray(4_444_444))  # recorded in the second capture
second.stop()
try:
    memlens_agent.AgentSession(library).start(out1)
except memlens_agent.AgentError as e:
    fact("existing file", e)
fact("done", True)
