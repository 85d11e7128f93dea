// Lint rules: typescript-eslint's type-aware recommended set, and the import boundaries of src/ that
// src/README.md draws. Imports point one way: cli → process, live, report → analysis → model → capture;
// util/ and html/ are leaves (html/ for report and live), as are errors.ts and version.ts; nothing imports
// cli. capture, model and analysis are also pure: no file system, no process, no console.
// test/imports.test.ts makes each kind of boundary fire on a wrong import, and checks for cycles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The parts of src/ each part may import, besides itself and errors.ts and version.ts. */
const MAY_IMPORT = {
  cli: ['process', 'live', 'report', 'analysis', 'model', 'capture', 'html', 'util'],
  process: ['analysis', 'model', 'capture', 'util'],
  live: ['analysis', 'model', 'capture', 'html', 'util'],
  report: ['analysis', 'model', 'capture', 'html', 'util'],
  analysis: ['model', 'capture', 'util'],
  model: ['capture', 'util'],
  capture: ['util'],
  html: ['util'],
  util: [],
};
const PARTS = Object.keys(MAY_IMPORT);
const PURE = ['capture', 'model', 'analysis'];

/**
 * The rules that keep `files` (the part `part` of src/, or undefined for the files at src/'s top) from
 * importing `forbidden`, statically or with import() (which no-restricted-imports does not see).
 */
function boundary(part, forbidden, pure) {
  const where = part === undefined ? 'src/*.ts' : `src/${part}/**/*.ts`;
  // The import as written: from src/X/... a part is reached by going up (../), from src/ by ./Y/.
  const up = part === undefined ? '\\./' : '(\\.\\./)+';
  const regex = `^${up}(${forbidden.join('|')})/`;
  const allowed = part === undefined ? [] : MAY_IMPORT[part].map((p) => `${p}/`);
  const message =
    part === undefined
      ? 'errors.ts and version.ts are leaves: they import nothing of src/ (src/README.md).'
      : `src/${part}/ imports only ${[...allowed, 'errors.ts', 'version.ts'].join(', ')}: imports point one way (src/README.md).`;
  const esRegex = regex.replaceAll('/', '\\/');
  return {
    files: [where],
    ...(pure ? { ignores: ['**/*.test.ts'] } : {}),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...(pure
            ? {
                paths: ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'net', 'node:net', 'child_process', 'node:child_process'].map((name) => ({
                  name,
                  message: 'capture/, model/ and analysis/ are pure: do I/O in cli/ or process/.',
                })),
              }
            : {}),
          patterns: [{ regex, message }],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: `ImportExpression[source.value=/${esRegex}/]`, message },
        { selector: `TSImportType[argument.literal.value=/${esRegex}/]`, message },
      ],
      ...(pure ? { 'no-restricted-globals': ['error', { name: 'process', message: 'Pure module: no process.' }, { name: 'console', message: 'Pure module: no console.' }] } : {}),
    },
  };
}

const BOUNDARIES = [
  boundary(undefined, PARTS, false),
  ...PARTS.filter((part) => MAY_IMPORT[part].length < PARTS.length - 1).map((part) =>
    boundary(
      part,
      PARTS.filter((p) => p !== part && !MAY_IMPORT[part].includes(p)),
      false,
    ),
  ),
  // The pure parts' source (not their tests, which read fixtures) again, with the I/O modules added.
  ...PURE.map((part) =>
    boundary(
      part,
      PARTS.filter((p) => p !== part && !MAY_IMPORT[part].includes(p)),
      true,
    ),
  ),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'agent/**', 'viewer/dist/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
    },
  },
  ...BOUNDARIES,
  {
    // Every byte memlens prints as text goes through main()'s terminal-safe streams (util/terminal-text.ts),
    // so that no name from a profiled program reaches the terminal as a control: commands write to io.stdout
    // and io.stderr, never to the process's own streams. The three files that must touch them (the Io of
    // the real process, and the two messages written before main() runs) escape what they write themselves.
    files: ['src/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/cli/io.ts', 'src/cli/bin.ts', 'src/util/node-flags.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        ...['stdout', 'stderr'].map((property) => ({
          object: 'process',
          property,
          message: "Write text to io.stdout or io.stderr: main() makes them terminal-safe (names from the profiled program must not reach the terminal as controls).",
        })),
      ],
      'no-console': 'error',
    },
  },
  {
    // The report viewer puts program data (function names, files, source lines) on the page: as text only.
    files: ['viewer/src/**/*.ts'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', localStorage: 'readonly', atob: 'readonly', Blob: 'readonly', Response: 'readonly', DecompressionStream: 'readonly', ResizeObserver: 'readonly', HTMLInputElement: 'readonly' } },
    rules: {
      // The page is bundled for the browser: from src/ it takes only the pure modules written for it.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+src/(?!(report/html/payload|live/view-data|util/units)\\.js$)',
              message: 'The viewer imports from src/ only report/html/payload.ts, live/view-data.ts and util/units.ts (pure, written for the browser).',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        ...['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'write', 'writeln', 'createContextualFragment'].map((property) => ({
          property,
          message: 'Markup from strings can run program data as HTML: build nodes with dom.ts el() and text.',
        })),
      ],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='setAttribute'][arguments.0.value=/^on/]", message: 'No inline event handlers.' }],
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/*.js', '*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS (bin/package.json): node's ES module loader costs every start about 6 ms (bin/cli-bundle.js).
    files: ['bin/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
