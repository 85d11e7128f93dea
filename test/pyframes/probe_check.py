"""Runs agent/src/pyframes.c (through the test-only probe library) inside this Python and prints, as JSON,
what it read next to what Python itself says, for test/pyframes/pyframes.test.ts to compare.

Usage: python probe_check.py PROBE.so

The probe is loaded with ctypes.CDLL, which releases the GIL for each call: every walk below is made by a
thread that does not hold the GIL, as in the agent's malloc hooks. Each scenario calls snapshot() from a
different kind of frame (threads, generators, coroutines, class bodies, lambdas, comprehensions, module
level, deep recursion, non-ASCII names and file names).
"""
import asyncio
import ctypes
import gc
import json
import sys
import threading
import traceback
import warnings

LIB = ctypes.CDLL(sys.argv[1])
LIB.probe_init.argtypes = [ctypes.c_ulong, ctypes.c_char_p, ctypes.c_size_t]
LIB.probe_init.restype = ctypes.c_int
LIB.probe_walk.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint32), ctypes.c_size_t]
LIB.probe_walk.restype = ctypes.c_size_t
LIB.probe_code_key.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64),
                               ctypes.POINTER(ctypes.c_uint32)]
LIB.probe_code_key.restype = ctypes.c_int
LIB.probe_code_text.argtypes = [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint64)]
LIB.probe_code_text.restype = ctypes.c_long
LIB.probe_walk_in_new_thread.argtypes = []
LIB.probe_walk_in_new_thread.restype = ctypes.c_long

CAP = 20000
CODES = (ctypes.c_uint64 * CAP)()
INSTRS = (ctypes.c_uint32 * CAP)()
HAS_QUALNAME = sys.version_info >= (3, 11)

out = {
    'version': list(sys.version_info[:3]),
    'hexversion': sys.hexversion,
    'executable': sys.executable,
    'refusals': [],
    'scenarios': [],
    'codes': {},
    'strings': [],
}


def init(hexversion):
    err = ctypes.create_string_buffer(512)
    rc = LIB.probe_init(hexversion, err, len(err))
    return rc, err.value.decode('utf-8', 'replace')


# Versions the agent does not know must be refused with a reason (and leave it refusing walks).
for fake in (0x030800F0, 0x031000A1, 0x020712F0, 0x040000F0):
    rc, err = init(fake)
    out['refusals'].append({'hexversion': fake, 'rc': rc, 'err': err, 'depth_after': LIB.probe_walk(CODES, INSTRS, CAP)})

rc, err = init(sys.hexversion)
out['init'] = {'rc': rc, 'err': err}
if rc != 0:
    print(json.dumps(out))
    sys.exit(0)

out['new_thread_depth'] = LIB.probe_walk_in_new_thread()


def code_text(code_addr, cap=1 << 16):
    buf = ctypes.create_string_buffer(cap)
    fields = (ctypes.c_uint64 * 9)()
    n = LIB.probe_code_text(code_addr, buf, cap, fields)
    if n < 0:
        return None
    raw = buf.raw[:n]

    def s(i):
        b = raw[fields[i]:fields[i] + fields[i + 1]]
        try:
            return b.decode('utf-8')
        except UnicodeDecodeError:
            return {'invalid_utf8': b.hex()}

    lt_len = fields[8]
    return {
        'name': s(0), 'qualname': s(2), 'filename': s(4), 'firstlineno': fields[6], 'kind': fields[7],
        'linetable': raw[n - lt_len:n].hex() if lt_len else '',
    }


def code_key(code_addr):
    name, filename, first = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint32()
    if LIB.probe_code_key(code_addr, ctypes.byref(name), ctypes.byref(filename), ctypes.byref(first)) != 0:
        return None
    return {'name': name.value, 'filename': filename.value, 'firstlineno': first.value}


def utf8_expected(s):
    """What the agent must write for a str: its UTF-8, surrogates replaced by U+FFFD."""
    return ''.join('\ufffd' if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def python_frame(f):
    co = f.f_code
    return {
        'code': id(co), 'lasti': f.f_lasti, 'lineno': f.f_lineno, 'name': utf8_expected(co.co_name),
        'qualname': utf8_expected(co.co_qualname if HAS_QUALNAME else co.co_name),
        'filename': utf8_expected(co.co_filename), 'firstlineno': co.co_firstlineno,
        'name_id': id(co.co_name), 'filename_id': id(co.co_filename),
    }


def snapshot(label):
    """Walks with the probe (GIL released), then reads the same frames through Python. This frame is the
    leaf of the walk; its line is that of the probe call, taken on the same line."""
    depth = LIB.probe_walk(CODES, INSTRS, CAP); leaf_line = sys._getframe().f_lineno  # noqa: E702
    probe = [{'code': CODES[i], 'instr': INSTRS[i]} for i in range(min(depth, CAP))]
    frames = []
    f = sys._getframe()
    while f is not None:
        frames.append(python_frame(f))
        f = f.f_back
    tb = [{'name': fs.name, 'lineno': fs.lineno, 'filename': fs.filename} for fs in traceback.extract_stack()]
    tb.reverse()
    for p in probe:
        key = str(p['code'])
        if key not in out['codes']:
            out['codes'][key] = {'text': code_text(p['code']), 'key': code_key(p['code'])}
    out['scenarios'].append({'name': label, 'depth': depth, 'leaf_line': leaf_line, 'probe': probe,
                             'python': frames, 'traceback': tb})
    return depth


# ---- scenarios ---------------------------------------------------------------------------------------

def plain():
    return snapshot('main thread')


plain()


def in_thread():
    t = threading.Thread(target=lambda: snapshot('other thread'), name='worker')
    t.start()
    t.join()


in_thread()


def gen():
    yield snapshot('generator')
    yield 2


def consume_gen():
    return list(gen())


consume_gen()


def outer_gen():
    yield from gen_inner()


def gen_inner():
    yield snapshot('yield from')


list(outer_gen())


async def coro_leaf():
    await asyncio.sleep(0)
    return snapshot('coroutine under asyncio')


async def coro_main():
    return await coro_leaf()


asyncio.run(coro_main())


async def bare_coro():
    return snapshot('coroutine driven by send')


def drive():
    c = bare_coro()
    try:
        c.send(None)
    except StopIteration:
        pass


drive()


def recurse(n):
    if n == 0:
        return snapshot('recursion 5000')
    return recurse(n - 1)


sys.setrecursionlimit(20000)
if sys.version_info < (3, 11):
    # 3.9/3.10 recurse on the C stack too; a thread with a big stack keeps 5,000 levels safe.
    threading.stack_size(256 << 20)
    t = threading.Thread(target=recurse, args=(5000,))
    t.start()
    t.join()
    threading.stack_size(0)
else:
    recurse(5000)

(lambda: snapshot('lambda'))()

[snapshot('list comprehension') for _ in range(1)]
list(snapshot('generator expression') for _ in range(1))
{k: snapshot('dict comprehension') for k in range(1)}


class Klass:
    depth = snapshot('class body')

    def method(self):
        return snapshot('method')

    @staticmethod
    def static():
        return snapshot('staticmethod')


Klass().method()
Klass.static()

# An incomplete frame: on 3.11 a collection can start inside MAKE_CELL, in the prologue of needs_cell, before
# its first traceable instruction; a gc callback then runs Python code while that frame is linked but
# incomplete. Python (PyFrame_GetBack) skips it, and so must the walk. (3.12+ defer collections to the
# next eval-breaker check, where the frame is complete; the scenario then only checks an ordinary stack.)
def needs_cell(a):
    if a:
        return 0

    def inner():
        return a
    return inner


def incomplete_driver():
    for _ in range(1000):
        needs_cell(1)
        if FIRED:
            break


FIRED = []


def gc_callback(phase, info):
    if not FIRED and phase == 'start' and sys._getframe(1).f_code.co_name == 'incomplete_driver':
        FIRED.append(snapshot('gc callback in a frame prologue'))


gc.collect()
OLD_THRESHOLD = gc.get_threshold()
gc.callbacks.append(gc_callback)
gc.set_threshold(1)
try:
    incomplete_driver()
finally:
    gc.set_threshold(*OLD_THRESHOLD)
    gc.callbacks.remove(gc_callback)

# Module level, non-ASCII names and file names: UCS1 (é), UCS2 (模块, 函数), UCS4 (𐐀, 𠀀) in the file name,
# the function names and the class name; code with many lines, big line jumps and a line after a long gap.
NON_ASCII_SRC = '''
def café(n):
    return 函数(n)


def 函数(n):
    return 𐐀𠀀(n)


def 𐐀𠀀(n):
    x = [
        n
        for _ in range(1)
    ]
    return snapshot("non-ASCII " + str(x[0]))


class Ωmega:
    def μ(self):
        return café(1)
''' + '\n' * 300 + '''
def far():
    return Ωmega().μ()
''' + '\n' * 70000 + '''
far_result = far()
module_result = snapshot("module level")
'''
exec(compile(NON_ASCII_SRC, '/tmp/memlens tést/模块/𠀀𐐀.py', 'exec'), {'snapshot': snapshot, '__name__': 'nonascii'})


# ---- strings the agent must not misread -----------------------------------------------------------------

class SubStr(str):
    pass


def probe_strings():
    def sample():
        pass

    base = sample.__code__
    cases = [
        ('latin-1', base.replace(co_name='café_ñ', co_filename='/x/é.py'), 'café_ñ', '/x/é.py'),
        ('ucs2', base.replace(co_name='函数', co_filename='/x/模块.py'), '函数', '/x/模块.py'),
        ('ucs4', base.replace(co_name='𐐀', co_filename='/x/𠀀.py'), '𐐀', '/x/𠀀.py'),
        ('lone surrogate in file name', base.replace(co_filename='/x/\udcff\udc80.py'), 'sample',
         '/x/\ufffd\ufffd.py'),
        ('str subclass (not compact)', base.replace(co_name=SubStr('sub'), co_filename=SubStr('/x/sub.py')),
         '<?>', '<?>'),
        ('empty name', base.replace(co_name=''), '', base.co_filename),
    ]
    if sys.version_info < (3, 12):
        api = ctypes.pythonapi
        api.PyUnicode_FromUnicode.restype = ctypes.py_object
        api.PyUnicode_FromUnicode.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            legacy = api.PyUnicode_FromUnicode(None, 3)  # a legacy (not compact, not ready) string
        cases.append(('legacy string (not compact)', base.replace(co_name=legacy), '<?>', base.co_filename))
    for label, code, name, filename in cases:
        got = code_text(id(code))
        out['strings'].append({'label': label, 'got': got, 'want_name': name, 'want_filename': filename})
    long_name = base.replace(co_name='n' * 5000)
    out['small_buffer'] = {'fits': code_text(id(long_name), 1 << 16) is not None,
                           'too_small': code_text(id(long_name), 1000) is None}
    out['not_code'] = {'text': code_text(id(12345)), 'key': code_key(id(object())), 'null': code_key(0)}


probe_strings()

print(json.dumps(out))
