// Lint rules: typescript-eslint's type-aware recommended set, plus the import boundaries of
// ../shared/design.md: capture, model and analysis are pure (no file system, no process, no console).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PURE_FORBIDDEN = {
  paths: ['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'net', 'node:net', 'child_process', 'node:child_process'].map(
    (name) => ({ name, message: 'capture/, model/ and analysis/ are pure: do I/O in cli/ or process/.' }),
  ),
  patterns: [{ group: ['**/cli/**', '**/process/**', '**/live/**', '**/report/**'], message: 'Imports point one way: cli → report → analysis → model → capture.' }],
};

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
  {
    files: ['src/capture/**/*.ts', 'src/model/**/*.ts', 'src/analysis/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', PURE_FORBIDDEN],
      'no-restricted-globals': ['error', { name: 'process', message: 'Pure module: no process.' }, { name: 'console', message: 'Pure module: no console.' }],
    },
  },
  {
    // The report viewer puts program data (function names, files, source lines) on the page: as text only.
    files: ['viewer/src/**/*.ts'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', localStorage: 'readonly', atob: 'readonly', Blob: 'readonly', Response: 'readonly', DecompressionStream: 'readonly', ResizeObserver: 'readonly', HTMLInputElement: 'readonly' } },
    rules: {
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
);
