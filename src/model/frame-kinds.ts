// Which frames a report hides by default, and which module a frame's file belongs to.
//
// Hidden by default (shown with a flag), as memray does: memlens's own bootstrap, runpy and threading's
// thread bootstrap ('internal'), and the import system ('import', a separate flag because "where did
// importing cost memory" is a real question). Native frames inside the interpreter are 'internal' too;
// that is decided where native frames are named (images.ts).

export type FrameKind = 'user' | 'internal' | 'import';

export function pythonFrameKind(func: string, file: string): FrameKind {
  if (file.startsWith('<frozen importlib') || file === '<frozen zipimport>') return 'import';
  if (/(^|\/)importlib\/_bootstrap(_external)?\.py$/.test(file) || /(^|\/)zipimport\.py$/.test(file)) return 'import';
  if (file.endsWith('memlens_bootstrap.py') || file.endsWith('memlens_agent.py') || file.endsWith('memlens_attach.py') || file.endsWith('memlens_census.py')) return 'internal';
  if (file === '<frozen runpy>' || /(^|\/)runpy\.py$/.test(file)) return 'internal';
  if (/(^|\/)threading\.py$/.test(file) && (func === '_bootstrap' || func === '_bootstrap_inner' || func.endsWith('._bootstrap') || func.endsWith('._bootstrap_inner'))) {
    return 'internal';
  }
  return 'user';
}

export type ModuleType = 'stdlib' | 'site-packages' | 'project' | 'unknown';

export interface PathInfo {
  readonly stdlibDirs: readonly string[];
  readonly sitePackages: readonly string[];
  readonly sysPath: readonly string[];
}

export interface ModuleInfo {
  /** Dotted module name, `json.decoder`, or the file's base name when no search path holds it. */
  readonly module: string;
  readonly type: ModuleType;
}

/**
 * The module a file belongs to, from the search paths the capture header recorded. Site-packages is
 * checked before the stdlib because virtualenvs and distro Pythons put site-packages inside the stdlib
 * directory (`/usr/lib/python3/dist-packages` aside).
 */
export function moduleOfFile(file: string, paths: PathInfo): ModuleInfo {
  if (file === '') return { module: 'unknown', type: 'unknown' };
  if (file.startsWith('<frozen ') && file.endsWith('>')) return { module: file.slice(8, -1), type: 'stdlib' };
  if (file.startsWith('<')) return { module: file, type: 'unknown' };
  for (const dir of paths.sitePackages) {
    const rel = relativeTo(file, dir);
    if (rel !== undefined) return { module: pathToModule(rel), type: 'site-packages' };
  }
  for (const dir of paths.stdlibDirs) {
    const rel = relativeTo(file, dir);
    if (rel !== undefined) return { module: pathToModule(rel), type: 'stdlib' };
  }
  // Longest sys.path entry first: '' or '/' must not win over '/srv/app'.
  let best: string | undefined;
  for (const dir of paths.sysPath) {
    const rel = relativeTo(file, dir);
    if (rel !== undefined && (best === undefined || rel.length < best.length)) best = rel;
  }
  if (best !== undefined) return { module: pathToModule(best), type: 'project' };
  const base = file.slice(file.lastIndexOf('/') + 1);
  return { module: pathToModule(base), type: 'unknown' };
}

/** The top-level package of a dotted module name: `numpy` for `numpy.core.numeric`. */
export function topLevelPackage(module: string): string {
  const dot = module.indexOf('.');
  return dot < 0 ? module : module.slice(0, dot);
}

function relativeTo(file: string, dir: string): string | undefined {
  if (dir === '') return undefined;
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  return file.startsWith(base) && file.length > base.length ? file.slice(base.length) : undefined;
}

function pathToModule(rel: string): string {
  let p = rel;
  if (p.endsWith('/__init__.py')) p = p.slice(0, -'/__init__.py'.length);
  else if (p.endsWith('.py')) p = p.slice(0, -3);
  else {
    // Extension modules: numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so
    const m = /^(.*?)(\.[^./]*)?\.(so|pyd)$/.exec(p);
    if (m !== null) p = m[1] ?? p;
  }
  return p
    .split('/')
    .filter((s) => s !== '')
    .join('.');
}
