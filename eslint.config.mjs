// ESLint (flat config) with typescript-eslint's type-aware rules, configured for this code: the
// recommended type-checked set plus the rules that catch real bugs in an extension and an engine
// process (floating and misused promises, switch exhaustiveness, type-only imports). Formatting is
// Prettier's job (npm run format). Rules turned off or relaxed say why.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const typeChecked = tseslint.configs.recommendedTypeChecked.map((c) => ({ ...c, files: ['**/*.ts'] }));

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'out/', 'native/build/', 'test-results/', 'bench/.tmp/', '.fim/', '**/*.d.ts', 'docs/'],
  },
  js.configs.recommended,
  ...typeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Shapes and budgets are printed as `[28,28,1]` on purpose; objects and unknowns still are not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true },
      ],
      // Async functions without await implement async interfaces (commands, jobs, hooks) and keep
      // their throws as rejections, which callers rely on.
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Tests read JSON a command printed or a run wrote and assert on it: `any` at that boundary is the point.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // Build scripts and the CLI launcher: plain Node JavaScript, outside the TypeScript project.
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
);
