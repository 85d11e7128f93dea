// How a report names a thread: its name in effect for the allocations it is shown with. A thread renamed
// during the run (prctl, pthread_setname_np, `Thread.name =`) has one entry per name; the later ones say
// which name they follow, so a list of threads shows both.

import { formatTime } from '../util/units.js';
import type { CaptureModel, ThreadInfo } from './model.js';

/** `worker-3`, `thread 4242` without a name, `io-loop (renamed from worker-3 at 1.200 s)` for a rename. */
export function threadLabel(model: CaptureModel, t: ThreadInfo): string {
  const own = t.name !== '' ? t.name : `thread ${t.osTid}`;
  if (t.renamedFrom === undefined) return own;
  const before = model.threads[t.renamedFrom];
  const was = before === undefined || before.name === '' ? `thread ${t.osTid}` : before.name;
  return `${own} (renamed from ${was}${t.renamedAtNs !== undefined ? ` at ${formatTime(t.renamedAtNs)}` : ''})`;
}
