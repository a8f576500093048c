// ESLint (flat config) for the browser code: frontend/ (the read page's ES modules, built by
// Vite into static/reader/) and the page scripts of static/js/ (ES modules served as they
// are). `npm run lint`; ./run.sh test runs it, with the unit tests, before pytest.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['static/reader/**', 'node_modules/**'] },
  js.configs.recommended,
  {
    files: ['frontend/**/*.js', 'static/js/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.browser },
    },
    rules: {
      // An unused `catch (error)` binding says what was caught; it hides nothing.
      'no-unused-vars': ['error', { caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-coercion': ['error', { boolean: false }],
      'no-shadow': 'error',
      'no-use-before-define': ['error', { functions: false, classes: true, variables: false }],
    },
  },
  {
    // Plotly is loaded by its own script tag before the dashboards' scripts.
    files: ['static/js/*.js'],
    languageOptions: { globals: { Plotly: 'readonly' } },
  },
  {
    files: ['frontend/tests/**/*.js', 'eslint.config.js', 'vite.config.js'],
    languageOptions: { globals: { ...globals.node } },
  },
];
