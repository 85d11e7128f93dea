"""Dumps line tables of many code objects with CPython's own answer for them, as JSON on stdout, for
test/pyframes/linetable-python.test.ts to check src/model/linetable.ts against.

For every code object (nested ones included) of a set of edge cases and of some standard library
modules: the raw table (co_lnotab on 3.9, co_linetable on 3.10+), co_firstlineno, the bytecode length
and what CPython says: dis.findlinestarts() on 3.9, co_lines() on 3.10+, co_positions() on 3.11+.
"""
import dis
import importlib.util
import json
import sys

V = sys.version_info[:2]
KIND = 1 if V == (3, 9) else 2 if V == (3, 10) else 3

BLANK = '\n'

EDGE = (
    '''
def backwards(a, b):
    return (a
            +
            b) if a else (
        b)


def loop_with_long_body(xs):
    total = 0
    for x in xs:
        total += x
''' + BLANK * 300 + '''
        total -= 1
    return total


def big_jumps():
    a = 1
''' + BLANK * 130 + '''
    b = 2
''' + BLANK * 260 + '''
    c = 3
''' + BLANK * 70000 + '''
    d = 4
    return a + b + c + d


def long_line():
    return [''' + ', '.join(str(i) for i in range(3000)) + ''']


def long_function(v0=0):
''' + ''.join('    v%d = v%d + %d\n' % (i + 1, i, i) for i in range(3000)) + '''
    return v0


def wide_columns(x):
    a = 1;''' + ' ' * 300 + '''b = [x, x, x];''' + ' ' * 40 + '''return (a, b)


def generator(n):
    yield 1
    x = yield 2
    yield from range(n)
    return x


async def async_generator(source):
    async for x in source:
        yield x


async def coroutine(cm, other, done):
    async with cm() as c:
        await c
    try:
        await other()
    except ValueError:
        pass
    finally:
        done()


def try_finally(f, g):
    try:
        return f()
    finally:
        g()


def with_statement(path):
    with open(path) as f:
        return f.read()


class Klass:
    attribute = 1

    def method(self):
        return lambda y: [z for z in y if z]


def decorator(f):
    return f


@decorator
@decorator
def decorated():
    pass


def multiline_call(f, a, b, c):
    return f(
        a,
        b,
    )(
        c,
    )


def comprehensions(xs):
    return ({x: [y for y in range(x)] for x in xs}, {x for x in xs}, list(x for x in xs))


def nested():
    def inner():
        def innermost():
            return 1
        return innermost
    return inner


def while_else(n):
    while n:
        n -= 1
        if n == 5:
            break
    else:
        return -1
    return n
'''
)

if V >= (3, 10):
    EDGE += '''

def matcher(v):
    match v:
        case [a, b]:
            return a + b
        case {"k": k}:
            return k
        case _:
            return None
'''

SOURCES = [('<edge cases>', EDGE, 'exec'),
           ('<late start>', BLANK * 100000 + 'def late():\n    return 1\nlate()\n', 'exec'),
           ('<module level>', 'import os\nx = [os.sep,\n     os.sep]\nfor i in range(3):\n    x.append(i)\n', 'exec'),
           ('<eval>', '1 +\\\n 2', 'eval')]

for mod in ('ast', 'dis', 'inspect', 'typing', 'argparse', 'dataclasses', 'json.decoder', 'asyncio.base_events',
            'collections', 'email.message', 'tarfile', 'difflib'):
    spec = importlib.util.find_spec(mod)
    if spec is not None and spec.origin and spec.origin.endswith('.py'):
        with open(spec.origin, encoding='utf-8') as f:
            SOURCES.append((spec.origin, f.read(), 'exec'))


def walk(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, type(code)):
            yield from walk(c)


codes = []
for filename, src, mode in SOURCES:
    top = compile(src, filename, mode)
    for code in walk(top):
        entry = {
            'file': filename,
            'name': code.co_name,
            'firstlineno': code.co_firstlineno,
            'codelen': len(code.co_code),
            'table': (code.co_lnotab if KIND == 1 else code.co_linetable).hex(),
        }
        if KIND == 1:
            entry['linestarts'] = [list(p) for p in dis.findlinestarts(code)]
        else:
            entry['lines'] = [list(r) for r in code.co_lines()]
        if KIND == 3:
            entry['positions'] = [list(p) for p in code.co_positions()]
        codes.append(entry)

json.dump({'version': list(sys.version_info[:3]), 'kind': KIND, 'codes': codes}, sys.stdout)
