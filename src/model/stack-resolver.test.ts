// Stack resolution: per-stream stack ids → global nodes → sites, through the per-node site map (tag-checked)
// and across STACK_RESETs; nodes → frames, a location's line looked up once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CodeRecord } from '../capture/records.js';
import type { StreamId } from './ids.js';
import { SiteTable } from './site-table.js';
import { firstLineResolver, StackResolver } from './stack-resolver.js';

const S1 = 1 as StreamId;
const S2 = 2 as StreamId;

function resolver(): { r: StackResolver; sites: SiteTable } {
  const sites = new SiteTable();
  return { r: new StackResolver(sites, firstLineResolver, undefined), sites };
}

/** Defines a chain of `depth` nodes on `stream` (local ids from `first`), codes `code + level`; returns the leaf id. */
function chain(r: StackResolver, stream: StreamId, first: number, depth: number, code: number): number {
  for (let k = 0; k < depth; k++) r.frame({ type: 'frame', stream, id: first + k, parent: k === 0 ? 0 : first + k - 1, codeId: code + k, instr: 2 * k });
  return first + depth - 1;
}

test('a node shared by threads and allocators: one site per (thread, allocator), whatever the order of events', () => {
  const { r, sites } = resolver();
  const leaf1 = chain(r, S1, 1, 5, 100);
  const leaf2 = chain(r, S2, 1, 5, 100); // the same global nodes
  const seen = new Map<string, number>();
  // Interleaved so that each event finds the site map's slot holding another (thread, allocator).
  for (let round = 0; round < 3; round++) {
    for (const [stream, leaf] of [
      [S1, leaf1],
      [S2, leaf2],
    ] as const) {
      for (const allocator of [0, 1, 3]) {
        const site = r.site(stream, leaf, 0, allocator);
        const key = `${stream}/${allocator}`;
        if (round === 0) seen.set(key, site);
        else assert.equal(site, seen.get(key), key);
        assert.equal(sites.thread(site), r.lastThread);
        assert.equal(sites.allocator(site), allocator);
      }
      // Defeat the per-stream caches in front of the map: another stack between the events.
      r.site(stream, 1, 0, 0);
    }
  }
  assert.equal(new Set(seen.values()).size, 6);
});

test('threads past the site map tag (8 bits: 16 threads of 16 allocators) take the site table, exactly', () => {
  // The site map holds the site and its (thread, allocator) tag in 4 bytes a node, the tag in the top 8 bits:
  // thread 16 at allocator 0 would be tag 257, whose low 8 bits are thread 0's at allocator 0 (round twenty-four).
  const { r, sites } = resolver();
  const streams = Array.from({ length: 20 }, (_, i) => (i + 1) as StreamId);
  // Thread 16 + k's event just before thread k's at the same node and allocator: the map's slot then holds the former.
  const order = [16, 0, 17, 1, 18, 2, 19, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const seen = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    // A STACK_RESET empties the per-stream caches in front of the map; the chain re-defined is the same global nodes.
    const leaves = streams.map((stream) => {
      r.stackReset(stream);
      return chain(r, stream, 1, 3, 100);
    });
    for (const allocator of [0, 14, 15]) {
      for (const i of order) {
        const site = r.site(streams[i]!, leaves[i]!, 0, allocator);
        const key = `${i}/${allocator}`;
        if (round === 0) seen.set(key, site);
        else assert.equal(site, seen.get(key), key);
        assert.deepEqual([sites.thread(site), sites.allocator(site)], [i, allocator], key);
      }
    }
  }
  assert.equal(new Set(seen.values()).size, 60);
});

test('after a STACK_RESET local ids name other nodes: their sites change; a node re-defined the same keeps its site', () => {
  const { r, sites } = resolver();
  const leaf = chain(r, S1, 1, 4, 100);
  const before = r.site(S1, leaf, 0, 0);
  const mid = r.site(S1, 2, 0, 0);
  r.stackReset(S1);
  // Local 1..4 now another chain (other codes): the same local ids, other nodes, other sites.
  chain(r, S1, 1, 4, 500);
  const other = r.site(S1, leaf, 0, 0);
  assert.notEqual(other, before);
  assert.equal(sites.pyStack(other), r.localStacks(S1, leaf, 0).py);
  assert.notEqual(r.site(S1, 2, 0, 0), mid);
  r.stackReset(S1);
  // The first chain again, under other local ids: the same global nodes, so the same sites.
  const again = chain(r, S1, 1, 4, 100);
  assert.equal(r.site(S1, again, 0, 0), before);
  assert.equal(r.site(S1, 2, 0, 0), mid);
  assert.equal(sites.size, 4);
});

test('a native stack, an unknown local id, or an allocator past the tag takes the site table, exactly', () => {
  const { r, sites } = resolver();
  const leaf = chain(r, S1, 1, 3, 100);
  r.nativeFrame({ type: 'native-frame', stream: S1, id: 1, parent: 0, ip: 0x7f0000001000 });
  const plain = r.site(S1, leaf, 0, 2);
  const native = r.site(S1, leaf, 1, 2);
  assert.notEqual(plain, native);
  assert.equal(sites.nativeStack(native), 1);
  // Thread 1's allocator 1 at the node, then thread 0's allocator 17: thread × 16 + allocator would be 17 for both.
  const leaf2 = chain(r, S2, 1, 3, 100);
  const other = r.site(S2, leaf2, 0, 1);
  const wide = r.site(S1, leaf, 0, 17);
  assert.notEqual(wide, plain);
  assert.notEqual(wide, other);
  assert.equal(sites.allocator(wide), 17);
  assert.equal(r.site(S1, 99, 0, 2), r.site(S1, 98, 0, 2)); // never defined: no Python node
  assert.equal(r.unknownStacks, 2);
  r.site(S1, 1, 0, 0);
  assert.equal(r.site(S1, leaf, 0, 2), plain);
  assert.equal(r.site(S1, leaf, 1, 2), native);
});

test('local stack ids past 2^24 (past the per-stream cache) and many global nodes (the site map grown)', () => {
  const { r, sites } = resolver();
  const big = 2 ** 24 + 3;
  r.frame({ type: 'frame', stream: S1, id: big, parent: 0, codeId: 1, instr: 0 });
  r.frame({ type: 'frame', stream: S1, id: big + 1, parent: big, codeId: 2, instr: 0 });
  const a = r.site(S1, big + 1, 0, 0);
  const b = r.site(S1, big, 0, 0);
  assert.notEqual(a, b);
  assert.equal(r.site(S1, big + 1, 0, 0), a);
  assert.equal(r.site(S1, big, 0, 0), b);
  r.stackReset(S1);
  // 20 000 nodes, each a leaf with its site: the map grows past its first 4096 nodes, ids kept.
  const n = 20_000;
  const first: number[] = [];
  for (let i = 1; i <= n; i++) {
    r.frame({ type: 'frame', stream: S1, id: i, parent: 0, codeId: 10 + i, instr: 0 });
    first.push(r.site(S1, i, 0, 1));
  }
  for (let i = n; i >= 1; i--) assert.equal(r.site(S1, i, 0, 1), first[i - 1]);
  assert.equal(sites.size, n + 2);
});

test("sites past 2^20 found again by their node: the site map's 24 bits of site, not fewer", () => {
  const { r, sites } = resolver();
  const n = (1 << 20) + 5000;
  // The root and n leaves under it: the leaf i's site is i (the root's is 0).
  r.frame({ type: 'frame', stream: S1, id: 1, parent: 0, codeId: 1, instr: 0 });
  assert.equal(r.site(S1, 1, 0, 0), 0);
  for (let i = 1; i <= n; i++) {
    r.frame({ type: 'frame', stream: S1, id: i + 1, parent: 1, codeId: 2, instr: 2 * i });
    assert.equal(r.site(S1, i + 1, 0, 0), i);
  }
  // Met again in another order, each after the root (no last-event reuse): through the site map.
  for (let i = n; i > n - 6000; i--) {
    assert.equal(r.site(S1, 1, 0, 0), 0);
    assert.equal(r.site(S1, i + 1, 0, 0), i);
  }
  assert.equal(sites.size, n + 1);
});

test("a thread's rename between events at a node: the node's site map slot (the old entry's) is not taken", () => {
  const { r, sites } = resolver();
  const leaf = chain(r, S1, 1, 3, 100);
  r.rename(S1, 'main', 0, false); // the entry's first name: no new entry
  const before = r.site(S1, leaf, 0, 2);
  assert.equal(sites.thread(before), 0);
  r.rename(S1, 'worker', 5, false);
  // A new entry (1): the node's slot still holds entry 0's site for allocator 2.
  const after = r.site(S1, leaf, 0, 2);
  assert.notEqual(after, before);
  assert.deepEqual([sites.thread(after), r.lastThread, sites.pyStack(after)], [1, 1, sites.pyStack(before)]);
  r.site(S1, 1, 0, 0);
  assert.equal(r.site(S1, leaf, 0, 2), after);
  assert.equal(sites.size, 3);
});

const codeRecord = (codeId: number, name: string, firstLineNo: number): CodeRecord => ({
  type: 'code',
  stream: 1,
  codeId,
  name,
  qualname: name,
  filename: 'a.py',
  firstLineNo,
  linetableKind: 0,
  linetable: new Uint8Array(0),
});

test("nodes at a known (code, instruction) take its frame without the line table; a CODE record replacing another's id is read again", () => {
  const calls: string[] = [];
  const sites = new SiteTable();
  // Line = the code's first line + the instruction: a replaced code (another first line) moves its frames.
  const r = new StackResolver(sites, (code, instr) => (calls.push(`${code.codeId}@${instr}`), code.firstLineNo + instr), undefined);
  r.code(codeRecord(7, 'f', 10));
  r.code(codeRecord(8, 'g', 20));
  // Three chains under different parents, every node at (7, 0), (8, 2) or (7, 4).
  let id = 1;
  for (let c = 0; c < 3; c++) {
    r.frame({ type: 'frame', stream: S1, id, parent: 0, codeId: 8, instr: c }); // roots differ: (8, 0..2)
    r.frame({ type: 'frame', stream: S1, id: id + 1, parent: id, codeId: 7, instr: 0 });
    r.frame({ type: 'frame', stream: S1, id: id + 2, parent: id + 1, codeId: 7, instr: 4 });
    id += 3;
  }
  let frames = r.resolveFrames();
  assert.deepEqual(calls, ['8@0', '7@0', '7@4', '8@1', '8@2']);
  const lineOf = (local: number): number => frames.frames[frames.pyFrame[r.localStacks(S1, local, 0).py]!]!.line;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(lineOf), [20, 10, 14, 21, 10, 14, 22, 10, 14]);
  // Code 7 replaced (its id re-used): nodes mapped from now on read its new line table.
  r.code(codeRecord(7, 'f', 100));
  r.frame({ type: 'frame', stream: S1, id: 10, parent: 1, codeId: 7, instr: 6 });
  r.frame({ type: 'frame', stream: S1, id: 11, parent: 10, codeId: 7, instr: 4 });
  calls.length = 0;
  frames = r.resolveFrames();
  assert.deepEqual(calls, ['7@6', '7@4']);
  assert.deepEqual([10, 11].map(lineOf), [106, 104]);
});

test("endOfRead() keeps nothing of the node index and the site map: the frames' node columns are new arrays, the same frames", () => {
  // call_sites: the two 16 MiB arrays given up by the read may be the top of malloc's heap; held as the frames'
  // columns there, the free memory beneath them stayed resident (stats +13 MB: docs/benchmarks.md, round twenty-five).
  const make = (): StackResolver => {
    const r = new StackResolver(new SiteTable(), (code, instr) => code.firstLineNo + instr, undefined);
    for (let c = 0; c < 1010; c++) r.code(codeRecord(c, `f${c % 50}`, (c % 50) * 10));
    // 6000 nodes: chains of 6 under 1000 roots, each leaf with its site (the site map grows past 4096 nodes).
    let id = 1;
    for (let k = 0; k < 1000; k++) {
      const leaf = chain(r, S1, id, 6, k); // roots (0, k, 0): 1000 chains apart
      r.site(S1, leaf, 0, 0);
      id += 6;
    }
    return r;
  };
  const plain = make().resolveFrames();
  const r = make();
  const held = r as unknown as Record<string, unknown> & { pyNodes: { fps: Uint8Array; lo: Uint16Array; hi: Uint8Array }; nodeSite: Int32Array };
  const given = [held.pyNodes.fps.buffer, held.pyNodes.lo.buffer, held.pyNodes.hi.buffer, held.nodeSite.buffer];
  assert.ok(given.every((b) => b.byteLength >= 6001));
  assert.ok(r.endOfRead() > 0);
  const frames = r.resolveFrames();
  assert.ok(!given.includes(frames.pyFrame.buffer) && !given.includes(frames.pyParent.buffer), 'a column in an array endOfRead() gave up');
  for (const key of Object.keys(held)) {
    const v = held[key];
    assert.ok(!(ArrayBuffer.isView(v) && given.includes(v.buffer)), `${key} holds an array endOfRead() gave up`);
    if (Array.isArray(v)) assert.ok(!v.some((x: unknown) => ArrayBuffer.isView(x) && given.includes(x.buffer)), `${key} holds an array endOfRead() gave up`);
  }
  assert.equal(frames.pyNodeCount, 6000);
  for (let g = 0; g <= 6000; g++) {
    assert.equal(frames.pyFrame[g], plain.pyFrame[g], `frame of node ${g}`);
    assert.equal(frames.pyParent[g], plain.pyParent[g], `parent of node ${g}`);
  }
  assert.deepEqual(frames.frames, plain.frames);
});

test('the per-stream site cache is exact: stacks past 127 and past 2^24, native stacks and allocators', () => {
  // Round twenty-nine: the cache's key is two int32s (the stack; the native stack and the allocator), not one
  // number stack × 2^24 + … that V8 took for a small integer until the stacks passed 127.
  const { r, sites } = resolver();
  const leaf = chain(r, S1, 1, 400, 100); // local ids 1-400
  // Native stacks 1024 apart share the cache's slot (the slot is a bijection of the ids below 1024).
  const natives = [0, 1, 2, 1025, 1026, 2049, 3073];
  for (const id of natives) if (id > 0) r.nativeFrame({ type: 'native-frame', stream: S1, id, parent: 0, ip: 0x1000 + 16 * id });
  const stacks = [leaf, 127, 128, 129, 255, 256, 300, 2 ** 24 - 1, 2 ** 24];
  for (let round = 0; round < 2; round++) {
    for (const stack of stacks) {
      for (const native of natives) {
        for (const allocator of [0, 1, 5, 15]) {
          const site = r.site(S1, stack, native, allocator);
          const want = r.localStacks(S1, stack, native);
          const key = [sites.pyStack(site), sites.nativeStack(site), sites.thread(site), sites.allocator(site)];
          assert.deepEqual(key, [want.py, want.native, want.thread, allocator], `${stack}/${native}/${allocator}`);
        }
      }
    }
  }
});

test('nodes map to the frames of their (code, instruction) whatever the order: codes arriving late, locations met again, against a plain map', () => {
  // Round thirty: a location's frame is looked for before the code (byCodeAndInstr, -1 while the code is missing),
  // from a hint (the location after the last node's). Expected frames are worked out here from the codes alone.
  let seed = 30;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const calls = new Map<string, number>();
  const r = new StackResolver(
    new SiteTable(),
    (code, instr) => {
      const k = `${code.codeId}@${instr}`;
      calls.set(k, (calls.get(k) ?? 0) + 1);
      return code.firstLineNo + instr;
    },
    undefined,
  );
  const codes = 40;
  const arrived = new Set<number>();
  const nodes: [number, number][] = []; // local id - 1 → (code, instruction)
  let id = 1;
  for (let round = 0; round < 6; round++) {
    // Codes arrive a few at a time (never replaced), between the mappings.
    for (let c = 0; c < codes; c++) {
      if (!arrived.has(c) && rand(3) === 0) {
        arrived.add(c);
        r.code(codeRecord(c, `f${c}`, 100 * c));
      }
    }
    // Runs of nodes at consecutive locations (the hint's case) and nodes at random ones, under random parents.
    for (let k = 0; k < 500; k++) {
      const run = rand(2) === 0 && nodes.length > 0;
      const [pc, pi] = run ? nodes[nodes.length - 1]! : [rand(codes), rand(5) * 2];
      const loc: [number, number] = run ? (pi < 8 ? [pc, pi + 2] : [(pc + 1) % codes, 0]) : [pc, pi];
      r.frame({ type: 'frame', stream: S1, id, parent: id > 1 && rand(4) !== 0 ? 1 + rand(id - 1) : 0, codeId: loc[0], instr: loc[1] });
      nodes.push(loc);
      id++;
    }
    const frames = r.resolveFrames();
    nodes.forEach(([c, instr], i) => {
      const f = frames.frames[frames.pyFrame[r.localStacks(S1, i + 1, 0).py]!]!;
      const want = arrived.has(c) ? [`f${c}`, 'a.py', 100 * c + instr] : [`<unknown code ${c}>`, '<unknown>', 0];
      assert.deepEqual([f.function, f.file, f.line], want, `node ${i + 1} at (${c}, ${instr}), round ${round}`);
    });
    // Counted once a global node (local ids under the same parent at the same location are one node).
    const unknown = new Set(nodes.flatMap(([c], i) => (arrived.has(c) ? [] : [r.localStacks(S1, i + 1, 0).py])));
    assert.equal(frames.unknownCodes, unknown.size);
  }
  // Each location's line table read once, once its code arrived.
  for (const [k, n] of calls) assert.equal(n, 1, `line table read ${n} times for ${k}`);
});
