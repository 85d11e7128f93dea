// The bundled viewer (dist/viewer/, made by scripts/build-viewer.mjs at `npm run build`), read once.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileError } from '../../errors.js';
import { REINSTALL_HINT, VIEWER_DIR } from '../../util/package-root.js';
import type { ViewerAssets } from './page.js';

let cached: ViewerAssets | undefined;

export function loadViewerAssets(): ViewerAssets {
  if (cached !== undefined) return cached;
  const scriptPath = join(VIEWER_DIR, 'viewer.js');
  const stylePath = join(VIEWER_DIR, 'viewer-style.css');
  try {
    cached = { script: readFileSync(scriptPath, 'utf8').trim(), style: readFileSync(stylePath, 'utf8').trim() };
  } catch (e) {
    throw new FileError(`the HTML viewer is not built (${scriptPath} is missing)`, { hint: REINSTALL_HINT, cause: e });
  }
  return cached;
}
