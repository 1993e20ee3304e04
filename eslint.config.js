// Lint, the layering rule and the doors.
// Layering: imports only go down the stack
//   core -> gpu -> tensor -> models -> data -> retrieval -> training -> worker -> notebook -> store -> components
// A layer may import the layers before it, never those after it (kernels/ are WGSL, loaded as text).
// Doors: each third-party runtime is imported by one file only, and nothing outside src/tensor
// reaches into its files (src/tensor/index.ts is its surface).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const LAYERS = ['core', 'gpu', 'tensor', 'models', 'data', 'retrieval', 'training', 'worker', 'notebook', 'store', 'components'];
// training sits above retrieval: a joint step searches the index for each question's candidates
// and refreshes it when the retriever moves; retrieval knows nothing of training.
const ABOVE = Object.fromEntries(LAYERS.map((layer, i) => [layer, LAYERS.slice(i + 1)]));

/** package -> the one file (under src/) that may import it. */
const DOORS = {
  idb: 'src/core/idb.ts',
  '@huggingface/transformers': 'src/models/tokenizer.ts',
  minisearch: 'src/retrieval/bm25.ts',
  'onnxruntime-web': 'src/models/onnx.ts',
  fflate: 'src/notebook/zip.ts',
  'chart.js': 'src/components/Chart.tsx',
  marked: 'src/components/renderMarkdown.ts',
  dompurify: 'src/components/renderMarkdown.ts',
};

function restrictions(layer, file) {
  const patterns = ABOVE[layer].map((up) => ({
    group: [`**/${up}/*`, `**/${up}`, `../${up}`, `../../${up}`],
    message: `src/${layer} may not import src/${up}: imports go down the stack (see docs/architecture.md).`,
  }));
  if (layer !== 'tensor')
    patterns.push({
      group: ['**/tensor/*', '!**/tensor/index'],
      message: 'import from src/tensor (its index.ts), not from its files.',
    });
  const doors = Object.entries(DOORS).filter(([, door]) => door !== file);
  const message = (name, door) => `${name} is imported only by ${door}, its one door.`;
  const paths = doors.map(([name, door]) => ({ name, message: message(name, door) }));
  for (const [name, door] of doors) patterns.push({ group: [`${name}/*`], message: message(name, door) });
  return { 'no-restricted-imports': ['error', { patterns, paths }] };
}

const layerRules = LAYERS.map((layer) => ({ files: [`src/${layer}/**/*.{ts,tsx}`], rules: restrictions(layer) }));
const doorRules = [...new Set(Object.values(DOORS))].map((file) => ({
  files: [file],
  rules: restrictions(file.split('/')[1], file),
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
  ...doorRules,
);
