// PEP 768 remote execution, done by memlens itself rather than by `sys.remote_exec` of a local Python:
// memlens needs no Python of the target's exact version, and it reaches targets in other mount namespaces
// (the script path is one the *target* can open; the caller places the file through /proc/PID/root).
//
// The protocol (CPython 3.14, Include/internal/pycore_debug_offsets.h and the "Remote debugging attachment
// protocol" HOWTO): _PyRuntime starts with _Py_DebugOffsets; from it find the main interpreter and its
// main thread state; write the script's path into tstate->remote_debugger_support.debugger_script_path,
// set debugger_pending_call to 1, and set _PY_EVAL_PLEASE_STOP_BIT in tstate->eval_breaker. At its next
// safe point (an eval-breaker check in the bytecode loop), the thread runs the script with the GIL held.

import { TargetError } from '../errors.js';
import { ProcessMemory } from './proc.js';
import { describeVersion, hasDebugOffsets, readPythonVersion, requirePythonRuntime } from './python-runtime.js';

const COOKIE = 'xdebugpy';
const EVAL_PLEASE_STOP_BIT = 1 << 5;

type Layout = readonly (readonly [string, readonly string[]])[];

/**
 * _Py_DebugOffsets is a struct of uint64 fields in groups; its shape changes between minor versions (the
 * values are the interpreter's own). Each layout lists its groups in declaration order, after cookie[8],
 * version and free_threaded.
 */
/** The groups whose fields 3.14 and 3.15 have alike. */
const SHARED: Readonly<Record<string, readonly string[]>> = {
  runtime_state: ['size', 'finalizing', 'interpreters_head'],
  interpreter_state: [
    'size',
    'id',
    'next',
    'threads_head',
    'threads_main',
    'gc',
    'imports_modules',
    'sysdict',
    'builtins',
    'ceval_gil',
    'gil_runtime_state',
    'gil_runtime_state_enabled',
    'gil_runtime_state_locked',
    'gil_runtime_state_holder',
    'code_object_generation',
    'tlbc_generation',
  ],
  interpreter_frame: ['size', 'previous', 'executable', 'instr_ptr', 'localsplus', 'owner', 'stackpointer', 'tlbc_index'],
  code_object: ['size', 'filename', 'name', 'qualname', 'linetable', 'firstlineno', 'argcount', 'localsplusnames', 'localspluskinds', 'co_code_adaptive', 'co_tlbc'],
  pyobject: ['size', 'ob_type'],
  tuple_object: ['size', 'ob_item', 'ob_size'],
  list_object: ['size', 'ob_item', 'ob_size'],
  set_object: ['size', 'used', 'table', 'mask'],
  dict_object: ['size', 'ma_keys', 'ma_values'],
  float_object: ['size', 'ob_fval'],
  long_object: ['size', 'lv_tag', 'ob_digit'],
  bytes_object: ['size', 'ob_size', 'ob_sval'],
  gen_object: ['size', 'gi_name', 'gi_iframe', 'gi_frame_state'],
  llist_node: ['next', 'prev'],
  debugger_support: ['eval_breaker', 'remote_debugger_support', 'remote_debugging_enabled', 'debugger_pending_call', 'debugger_script_path', 'debugger_script_path_size'],
};

/** The groups named, in that order, with their shared fields. */
function shared(...groups: string[]): (readonly [string, readonly string[]])[] {
  return groups.map((g) => {
    const fields = SHARED[g];
    if (fields === undefined) throw new Error(`no shared _Py_DebugOffsets group ${g}`);
    return [g, fields] as const;
  });
}

const LAYOUT_314: Layout = [
  ...shared('runtime_state', 'interpreter_state'),
  ['thread_state', ['size', 'prev', 'next', 'interp', 'current_frame', 'thread_id', 'native_thread_id', 'datastack_chunk', 'status']],
  ...shared('interpreter_frame', 'code_object', 'pyobject'),
  ['type_object', ['size', 'tp_name', 'tp_repr', 'tp_flags']],
  ...shared('tuple_object', 'list_object', 'set_object', 'dict_object', 'float_object', 'long_object', 'bytes_object'),
  ['unicode_object', ['size', 'state', 'length', 'asciiobject_size']],
  ['gc', ['size', 'collecting']],
  ...shared('gen_object', 'llist_node', 'debugger_support'),
];

/** 3.15 (final; 3.15.0b4 added last_profiled_frame_seq, so earlier pre-releases have another shape). */
const LAYOUT_315: Layout = [
  ...shared('runtime_state', 'interpreter_state'),
  [
    'thread_state',
    [
      'size',
      'prev',
      'next',
      'interp',
      'current_frame',
      'base_frame',
      'last_profiled_frame',
      'last_profiled_frame_seq',
      'thread_id',
      'native_thread_id',
      'datastack_chunk',
      'status',
      'holds_gil',
      'gil_requested',
      'current_exception',
      'exc_state',
    ],
  ],
  ['err_stackitem', ['exc_value']],
  ...shared('interpreter_frame', 'code_object', 'pyobject'),
  ['type_object', ['size', 'tp_name', 'tp_repr', 'tp_flags', 'tp_basicsize', 'tp_dictoffset']],
  ['heap_type_object', ['size', 'ht_cached_keys']],
  ...shared('tuple_object', 'list_object', 'set_object', 'dict_object', 'float_object', 'long_object', 'bytes_object'),
  ['unicode_object', ['size', 'state', 'length', 'asciiobject_size', 'compactunicodeobject_size']],
  ['gc', ['size', 'collecting', 'frame', 'generation_stats_size', 'generation_stats']],
  ...shared('gen_object', 'llist_node', 'debugger_support'),
];

const LAYOUTS: ReadonlyMap<number, Layout> = new Map([
  [14, LAYOUT_314],
  [15, LAYOUT_315],
]);

function layoutSize(layout: Layout): number {
  return 24 + layout.reduce((n, [, f]) => n + f.length * 8, 0);
}

export type DebugOffsets = ReadonlyMap<string, number>;

/** Bytes of _Py_DebugOffsets for a minor version (undefined: a shape this memlens does not know). */
export function debugOffsetsSize(minor: number): number | undefined {
  const layout = LAYOUTS.get(minor);
  return layout === undefined ? undefined : layoutSize(layout);
}

/**
 * Decodes _Py_DebugOffsets (bytes from the start of _PyRuntime) into "group.field" → value, and checks
 * that the shape is the one this memlens knows: the values every LP64 build has (a table of another
 * shape, such as a pre-release's, puts other fields there).
 */
export function decodeDebugOffsets(bytes: Uint8Array, minor: number): DebugOffsets {
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== COOKIE) throw new TargetError('the interpreter has no debug offsets (cookie not found)');
  const layout = LAYOUTS.get(minor);
  if (layout === undefined) {
    throw new TargetError(`remote execution knows the _Py_DebugOffsets of CPython ${[...LAYOUTS.keys()].map((m) => `3.${m}`).join(' and ')}, not 3.${minor}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, number>();
  let at = 24;
  for (const [group, fields] of layout) {
    for (const f of fields) {
      if (at + 8 > bytes.length) throw new TargetError('debug offsets are cut short');
      out.set(`${group}.${f}`, dv.getUint32(at + 4, true) * 0x1_0000_0000 + dv.getUint32(at, true));
      at += 8;
    }
  }
  const freeThreaded = dv.getUint32(16, true);
  out.set('free_threaded', freeThreaded);
  const header = freeThreaded === 1 ? 32 : 16;
  const fits = out.get('pyobject.size') === header && out.get('pyobject.ob_type') === header - 8 && out.get('bytes_object.ob_sval') === header + 16 && out.get('interpreter_frame.previous') === 8;
  if (!fits || (freeThreaded !== 0 && freeThreaded !== 1)) {
    throw new TargetError(`the _Py_DebugOffsets of this CPython 3.${minor} have an unexpected shape (a pre-release?)`);
  }
  return out;
}

function need(o: DebugOffsets, key: string): number {
  const v = o.get(key);
  if (v === undefined) throw new Error(`missing debug offset ${key}`);
  return v;
}

export interface RemoteExecRequest {
  readonly pid: number;
  /** Path of the script as the target sees it. */
  readonly scriptPath: string;
}

interface RemoteSupport {
  readonly mem: ProcessMemory;
  readonly version: string;
  readonly tstate: number;
  readonly offsets: DebugOffsets;
}

/** Opens the target's memory and finds the main thread's remote-debugger fields (3.14+). */
function openRemoteSupport(pid: number): RemoteSupport {
  const runtime = requirePythonRuntime(pid);
  const mem = new ProcessMemory(pid, true);
  try {
    const version = readPythonVersion(runtime, mem);
    if (version === undefined || version.minor < 14 || runtime.runtimeAddress === undefined || !hasDebugOffsets(runtime, mem)) {
      throw new TargetError(`PID ${pid} runs Python ${version !== undefined ? describeVersion(version) : '(unknown version)'}, which has no remote execution (PEP 768 needs 3.14 or newer)`, {
        hint: 'Use --method gdb (or lldb), or --method auto to choose.',
      });
    }
    const size = debugOffsetsSize(version.minor);
    if (size === undefined) {
      throw new TargetError(`PID ${pid} runs Python ${describeVersion(version)}, whose remote-execution layout this memlens does not know`, {
        hint: 'Use --method gdb (or lldb), or --method auto to choose.',
      });
    }
    const offsets = decodeDebugOffsets(mem.read(runtime.runtimeAddress, size), version.minor);
    const interp = mem.readU64(runtime.runtimeAddress + need(offsets, 'runtime_state.interpreters_head'));
    if (interp === 0) throw new TargetError(`PID ${pid}: the interpreter is not initialized yet (or is shutting down)`);
    if (mem.readI32(interp + need(offsets, 'debugger_support.remote_debugging_enabled')) !== 1) {
      throw new TargetError(`PID ${pid} has remote debugging disabled (PYTHON_DISABLE_REMOTE_DEBUG or -X disable_remote_debug)`, {
        hint: 'Use --method gdb, or restart the target without that setting.',
      });
    }
    let tstate = mem.readU64(interp + need(offsets, 'interpreter_state.threads_main'));
    if (tstate === 0) tstate = mem.readU64(interp + need(offsets, 'interpreter_state.threads_head'));
    if (tstate === 0) throw new TargetError(`PID ${pid}: no Python thread to run the attach script`);
    return { mem, version: describeVersion(version), tstate, offsets };
  } catch (e) {
    mem.close();
    throw e;
  }
}

/**
 * Asks the target to run the script at its next safe point. Returns once the request is written; the
 * caller learns that the script ran from the script itself (a file it writes, a socket it connects).
 */
export function requestRemoteExec(req: RemoteExecRequest): { readonly version: string } {
  const { mem, version, tstate, offsets } = openRemoteSupport(req.pid);
  try {
    const support = tstate + need(offsets, 'debugger_support.remote_debugger_support');
    const pathBytes = new TextEncoder().encode(req.scriptPath);
    const pathSize = need(offsets, 'debugger_support.debugger_script_path_size');
    if (pathBytes.length + 1 > pathSize) {
      throw new TargetError(`the attach script path is ${pathBytes.length} bytes; CPython accepts at most ${pathSize - 1}`);
    }
    const withNul = new Uint8Array(pathBytes.length + 1);
    withNul.set(pathBytes);
    mem.write(support + need(offsets, 'debugger_support.debugger_script_path'), withNul);
    mem.writeI32(support + need(offsets, 'debugger_support.debugger_pending_call'), 1);
    // CPython's own sys.remote_exec sets the bit the same way, without stopping the target: the breaker
    // word is changed by the target only with atomic ORs/ANDs of other bits, and a bit lost to the race
    // (a GIL drop request) is re-requested by the interpreter. Only the low 32 bits are touched
    // (little-endian): the upper ones hold the instrumentation version.
    const breakerAddr = tstate + need(offsets, 'debugger_support.eval_breaker');
    const low = mem.readI32(breakerAddr);
    mem.writeI32(breakerAddr, low | EVAL_PLEASE_STOP_BIT);
    return { version };
  } finally {
    mem.close();
  }
}

/** Withdraws a request the target has not run yet (memlens gave up waiting). */
export function cancelRemoteExec(pid: number): void {
  try {
    const { mem, tstate, offsets } = openRemoteSupport(pid);
    try {
      mem.writeI32(tstate + need(offsets, 'debugger_support.remote_debugger_support') + need(offsets, 'debugger_support.debugger_pending_call'), 0);
    } finally {
      mem.close();
    }
  } catch (e) {
    // The target may have exited meanwhile: nothing left to withdraw.
    if (!(e instanceof TargetError)) throw e;
  }
}
