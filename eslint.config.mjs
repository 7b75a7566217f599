// Lint: typescript-eslint's recommended rules everywhere; workflow code (and the pure modules it
// imports: domain/, contracts/) may import only @temporalio/workflow and other pure modules, so it
// stays deterministic. Workflow files also may not leave promises floating.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = ['assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib'];

const impure = {
  paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must be deterministic: do this in an activity' })),
  patterns: [
    { group: ['node:*'], message: 'workflow code must be deterministic: do this in an activity' },
    { group: ['mongoose', 'mongodb', 'express', 'nodemailer', 'handlebars', 'pino', 'ajv', 'ajv-*'], message: 'side effects belong in activities' },
    { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'workflow code imports only @temporalio/workflow' },
    { group: ['**/lib/*', '**/lib', '**/models', '**/models/*', '**/services/*', '**/api/*', '**/bin/*', '**/stack/*'], message: 'workflow code imports only pure modules (domain/, contracts/)' },
    { group: ['**/activities', '**/activities/*'], allowTypeImports: true, message: 'import activities with `import type` only' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.local/**', 'data/**', 'scripts/**/*.go'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // tests read JSON bodies of many shapes
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts', 'contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': ['error', impure],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
);
