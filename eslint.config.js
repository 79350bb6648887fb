// Lint what the type checker does not catch (STYLE anti-pattern 3): floating promises,
// misused promises and unused expressions, with type information, over src/ only.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scripts/**', 'test/**', 'bin/**', '*.js'] },
  {
    files: ['src/**/*.ts', 'src/**/*.cts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: path.dirname(fileURLToPath(import.meta.url)) },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-expressions': 'error',
      '@typescript-eslint/await-thenable': 'error',
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Shape: no import cycle (a file never imports its own importer, directly or not), functions
    // short enough to read at once, files a newcomer can hold in mind (STYLE habit 18).
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }],
      'max-lines': ['error', { max: 350, skipBlankLines: false, skipComments: false }],
      'max-len': ['error', { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    // Layers: cli → ops → pki / k8s / net / audit. Nothing below the cli imports it (static or
    // dynamic), and the lower layers do not import ops.
    files: ['src/ops/**/*.ts', 'src/pki/**/*.ts', 'src/k8s/**/*.ts', 'src/net/**/*.ts', 'src/audit/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/*'],
              message:
                'ops and below must not import the cli layer (define what you need in ops, e.g. ops/reporter.ts).',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression[source.value=/\\/cli\\//]',
          message: 'ops and below must not import the cli layer.',
        },
      ],
    },
  },
  {
    files: ['src/pki/**/*.ts', 'src/k8s/**/*.ts', 'src/net/**/*.ts', 'src/audit/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/cli/*'], message: 'lower layers must not import the cli.' },
            { group: ['**/ops/*'], message: 'pki, k8s, net and audit must not import ops.' },
          ],
        },
      ],
    },
  },
);
