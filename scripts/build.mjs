// Bundles each entry point with esbuild (`npm run build`; `--watch` to rebuild on change).
// Node entries keep @tensorflow/* external: tfjs-node(-gpu), when installed, must share the very
// same tfjs-core instance as the rest of the engine, which only one node_modules copy guarantees.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nodeBundleOptions } from './bundle-options.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const nodeCommon = nodeBundleOptions({ production });

/** [entry, outfile, options]; entries that do not exist yet are skipped with a note. */
const targets = [
  ['src/cli/main.ts', 'dist/cli.js', nodeCommon],
  ['src/engine/main.ts', 'dist/engine.js', nodeCommon],
  ['src/extension/main.ts', 'dist/extension.js', nodeCommon],
];

// One bundle per webview panel: webview/<panel>/main.ts → dist/webview/<panel>.js
const webviewDir = path.join(root, 'webview');
if (fs.existsSync(webviewDir)) {
  for (const d of fs.readdirSync(webviewDir, { withFileTypes: true })) {
    const entry = path.join('webview', d.name, 'main.ts');
    if (d.isDirectory() && fs.existsSync(path.join(root, entry))) {
      targets.push([
        entry,
        `dist/webview/${d.name}.js`,
        { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, minify: production, logLevel: 'warning' },
      ]);
    }
  }
}

const contexts = [];
for (const [entry, outfile, opts] of targets) {
  if (!fs.existsSync(path.join(root, entry))) continue;
  const options = { ...opts, entryPoints: [path.join(root, entry)], outfile: path.join(root, outfile) };
  if (watch) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
    contexts.push(ctx);
  } else {
    await esbuild.build(options);
  }
}
if (!watch)
  console.log(
    `built ${targets
      .filter(([e]) => fs.existsSync(path.join(root, e)))
      .map(([, o]) => o)
      .join(', ')}`,
  );
