// Lint: typescript-eslint's recommended type-checked rules over every TypeScript file (issue 20.6).
// Formatting is Prettier's job (npm run format:check), so no stylistic rules here.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'data/**',
      '.work/**',
      'test-artifacts/**',
      'bench-results/**',
      'chaos-results/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A leading underscore marks a binding kept on purpose (a destructured field left out, a parameter an
      // interface requires): the usual convention, which tsc's noUnusedParameters follows too.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
);
