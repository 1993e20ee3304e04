// Lint, and the layering rule: imports only go down the stack
//   kernels -> gpu -> tensor -> models -> data -> retrieval -> training -> worker -> store -> components
// A layer may import the layers before it, never those after it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const LAYERS = ['gpu', 'tensor', 'models', 'data', 'retrieval', 'training', 'worker', 'notebook', 'store', 'components'];
// training sits above retrieval: a joint step searches the index for each question's candidates
// and refreshes it when the retriever moves; retrieval knows nothing of training.
const ABOVE = {
  gpu: ['tensor', 'models', 'data', 'retrieval', 'training', 'worker', 'notebook', 'store', 'components'],
  tensor: ['models', 'data', 'retrieval', 'training', 'worker', 'notebook', 'store', 'components'],
  models: ['data', 'retrieval', 'training', 'worker', 'notebook', 'store', 'components'],
  data: ['retrieval', 'training', 'worker', 'notebook', 'store', 'components'],
  retrieval: ['training', 'worker', 'notebook', 'store', 'components'],
  training: ['worker', 'notebook', 'store', 'components'],
  worker: ['notebook', 'store', 'components'],
  notebook: ['store', 'components'],
  store: ['components'],
  components: [],
};

const layerRules = LAYERS.map((layer) => ({
  files: [`src/${layer}/**/*.{ts,tsx}`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: ABOVE[layer].flatMap((up) => [
          {
            group: [`**/${up}/*`, `**/${up}`, `../${up}`, `../../${up}`],
            message: `src/${layer} may not import src/${up}: imports go down the stack (see docs/architecture.md).`,
          },
        ]),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist', 'node_modules', 'test-results', 'playwright-report', 'bench/results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-sequences': 'off',
    },
  },
  ...layerRules,
);
