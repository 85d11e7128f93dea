// The bundled viewer (dist/viewer/, made by scripts/build-viewer.mjs at `npm run build`), read once.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FileError } from '../../errors.js';
import type { ViewerAssets } from './page.js';

let cached: ViewerAssets | undefined;

export function loadViewerAssets(): ViewerAssets {
  if (cached !== undefined) return cached;
  // This file is dist/src/report/html/assets.js; the bundle is dist/viewer/.
  const dir = new URL('../../../viewer/', import.meta.url);
  const scriptPath = fileURLToPath(new URL('viewer.js', dir));
  const stylePath = fileURLToPath(new URL('viewer-style.css', dir));
  try {
    cached = { script: readFileSync(scriptPath, 'utf8').trim(), style: readFileSync(stylePath, 'utf8').trim() };
  } catch (e) {
    throw new FileError(`the HTML viewer is not built (${scriptPath} is missing)`, { hint: "Run 'npm run build' in the memlens directory.", cause: e });
  }
  return cached;
}
