// Jest runs the TypeScript tests in ESM mode through ts-jest (transpile only:
// `npm run typecheck` is the type gate). Tests that need the CLI run the built
// dist/ through bin/xsoar-cert.js, which `npm test` builds first (pretest).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // src/cjs/*.cts are CommonJS shims (require() is faster than an ESM import of a CJS package).
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^(\\.{1,2}/.*)\\.cjs$': '$1.cts' },
  moduleFileExtensions: ['ts', 'cts', 'js', 'cjs', 'mjs', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'test/tsconfig.json', diagnostics: false }],
    '^.+\\.cts$': ['ts-jest', { tsconfig: 'test/tsconfig.json', diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/global-setup.mjs',
  globalTeardown: '<rootDir>/test/global-teardown.mjs',
};
