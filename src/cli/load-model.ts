// Reading a capture file into a CaptureModel: the file edge of src/model. Streams the file through the
// decoder and the seq orderer into the replay (bounded memory), draws a progress bar on stderr for big files, and reports damage in one warning line.

import { statSync } from 'node:fs';
import type { CaptureModel } from '../model/model.js';
import { SeqOrderer } from '../capture/order.js';
import { type BuildOptions, ModelBuilder } from '../model/builder.js';
import { siteCapacityFor } from '../model/site-table.js';
import { fileSymbolizer } from './symbolizer.js';
import { lineTableResolver } from '../model/lines.js';
import { readCaptureFile } from './capture-file.js';
import type { Io } from './io.js';
import { byteProgress } from './progress.js';
import { escapeLine } from '../util/terminal-text.js';
import { useReportFlags } from '../util/report-flags.js';
import { collectNow, heapGrowthCheck } from '../util/outgrown.js';

/** Smaller than readCaptureFile's default: the replay, not the read size, bounds the speed, and every
 * MiB of buffer shows in the peak RSS (measured in bench/report-speed.ts). 128 KiB rather than 1 MiB:
 * about 1.1 MiB less peak RSS on a 50 M-event capture, CPU time within noise (docs/benchmarks.md, "Report
 * memory, round seven"); a block longer than a chunk is gathered by the framer as before. */
const READ_CHUNK_BYTES = 128 << 10;

export interface LoadOptions extends BuildOptions {
  /** Force the progress bar (tests); otherwise only on a terminal and for big files. */
  readonly forceProgress?: boolean;
}

export async function loadModel(io: Io, path: string, options: LoadOptions = {}): Promise<CaptureModel> {
  const model = await readModel(io, path, options);
  // The replay's tables (the live allocations: 6 MiB for 240 000 of them), the orderer's and the decoder's
  // buffers are garbage now, but old enough to wait for a full collection, which a report building its
  // output (the flame graph's page: 8 MiB more) may not get before it ends: collected here, they are not
  // beside what comes next (docs/benchmarks.md, "Reports, round eight"). Once, a few milliseconds.
  collectNow();
  return model;
}

/** loadModel() without the collection: the builder and the orderer are unreachable once it returns. */
async function readModel(io: Io, path: string, options: LoadOptions): Promise<CaptureModel> {
  let size = 0;
  try {
    // Synchronous, one system call: node:fs/promises (and node's readline and file watchers behind it) is
    // about 0.6 MiB of resident memory that a report does not otherwise load.
    size = statSync(path).size;
  } catch {
    // readCaptureFile reports a missing or unreadable file with the right message.
  }
  // Before the hot functions are first optimized, and before the young generation grows.
  useReportFlags();
  const builder = new ModelBuilder({ lineResolver: lineTableResolver(), symbolizer: fileSymbolizer(), siteCapacity: siteCapacityFor(size), ...options });
  // The decoder gives blocks in file order; the replay needs seq order across threads.
  const orderer = new SeqOrderer(builder);
  const progress = byteProgress(io, `reading ${path}`, size, options.forceProgress === true ? { force: true } : {});
  // The old generation's garbage collected as the read goes (the end of the read is a report's peak).
  await readCaptureFile(path, orderer, { progress, chunkSize: READ_CHUNK_BYTES, afterChunk: heapGrowthCheck() });
  orderer.end();
  const model = builder.finish();
  if (model.warnings.length > 0) {
    const first = model.warnings[0];
    const more = model.warnings.length > 1 ? ` (and ${model.warnings.length - 1} more damaged region${model.warnings.length === 2 ? '' : 's'})` : '';
    io.stderr.write(`memlens: warning: ${escapeLine(path)}: ${escapeLine(first?.message ?? 'damaged data')}${more}; reading went on past it\n`);
  }
  return model;
}
