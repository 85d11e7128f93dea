// ELF reading (agent/src/elf.c) on the objects of a real program: agent/test/elf_check.c walks its own
// loaded objects with the agent's reader and prints what it found beside what the loader (dlsym) and the
// kernel (/proc/self/maps) say. Built twice: with full RELRO (-z relro -z now: the GOT read-only once
// relocated) and with -z norelro (a writable GOT), the two cases GOT patching must tell apart.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AGENT_SRC, AGENT_TEST, compile, STRICT_CFLAGS } from '../pyframes/support.js';
import { tempDir } from '../support/memlens-run.js';

const tmp = tempDir('memlens-elf-');
after(tmp.remove);

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const FULL_RELRO = ['-Wl,-z,relro,-z,now'];

function facts(linkFlags: readonly string[]): Map<string, string[]> {
  const exe = join(tmp.dir, `elf_check${linkFlags.join('').replace(/[^a-z]/g, '-')}`);
  const cc = compile([...STRICT_CFLAGS, '-rdynamic', ...linkFlags, '-o', exe, join(AGENT_TEST, 'elf_check.c'), join(AGENT_SRC, 'elf.c'), '-ldl']);
  assert.equal(cc.status, 0, cc.stderr);
  const r = spawnSync(exe, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, string[]>();
  for (const line of r.stdout.trimEnd().split('\n')) {
    const [name, ...values] = line.split('\t');
    if (name === undefined) continue;
    if (name === 'main.malloc_slot_prot' && out.has(name)) continue; // the first slot speaks for all
    out.set(name, values);
  }
  return out;
}

function one(f: Map<string, string[]>, name: string): string {
  const v = f.get(name);
  assert.ok(v !== undefined, `elf_check printed no ${name}`);
  return v[0] as string;
}

test('symbols, build ids and segments of the program and libc read as the loader and the kernel see them', () => {
  const f = facts(FULL_RELRO);
  for (const who of ['main', 'libc']) {
    assert.equal(one(f, `${who}.dynamic`), '0', `${who}: PT_DYNAMIC read`);
    assert.equal(one(f, `${who}.no_such_symbol`), '0', `${who}: an absent name is not found`);
    assert.equal(one(f, `${who}.build_id_len`), '20', `${who}: a 20-byte GNU build id`);
  }
  // libc defines malloc, at the address dlsym gives; the program only refers to it (an undefined symbol).
  assert.equal(one(f, 'libc.malloc_defined'), '1');
  assert.equal(one(f, 'libc.malloc_is_dlsym'), '1');
  assert.equal(one(f, 'main.malloc_defined'), '0');
  assert.equal(one(f, 'main.marker_is_address'), '1');
  const text = f.get('main.text_prot');
  assert.deepEqual(text, [String(PROT_READ | PROT_EXEC), String(PROT_READ | PROT_EXEC)], 'text: r-x by the headers and in the maps');
});

test("the page protection of a GOT slot is the loader's: read-only under RELRO, writable without", () => {
  const relro = facts(FULL_RELRO).get('main.malloc_slot_prot');
  assert.ok(relro !== undefined, 'a relocation names malloc');
  assert.equal(relro[0], relro[1], 'elf.c and /proc/self/maps agree (full RELRO)');
  assert.equal(relro[0], String(PROT_READ));
  const plain = facts(['-Wl,-z,norelro,-z,lazy']).get('main.malloc_slot_prot');
  assert.ok(plain !== undefined, 'a relocation names malloc');
  assert.equal(plain[0], plain[1], 'elf.c and /proc/self/maps agree (no RELRO)');
  assert.equal(plain[0], String(PROT_READ | PROT_WRITE));
});
