#!/usr/bin/env node
// Bundles the browser code of the HTML report (viewer/src/main.ts and its CSS) into dist/viewer/, where
// src/report/html/assets.ts reads them to inline into every report, and the live view's page
// (viewer/src/live/, served by src/live/web.ts). Run by `npm run build` after tsc
// (which type-checks viewer/ with viewer/tsconfig.json).
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'viewer');
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: {
    viewer: join(root, 'viewer', 'src', 'main.ts'),
    'viewer-style': join(root, 'viewer', 'src', 'style.css'),
    // The live view's page (src/live/web.ts serves it).
    live: join(root, 'viewer', 'src', 'live', 'main.ts'),
    'live-style': join(root, 'viewer', 'src', 'live', 'live.css'),
  },
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome103', 'firefox113', 'safari16.4'],
  // The bundle is inlined in a <script>: esbuild escapes '</script' in strings; legalComments would add text.
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});
