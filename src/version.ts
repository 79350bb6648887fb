// Kept in sync with package.json by test/unit/version.test.ts; a constant so that
// `--version` needs no file I/O and no commander (see the start-up bench).
export const VERSION = '0.1.0';
