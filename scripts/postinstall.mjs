// Runs after `npm install` in this repository: bundles the entry points so `npm start` and `fim`
// work at once, and builds the optional native kernels. Neither failure fails the install: the
// CLI falls back to the TypeScript sources and the engine to its portable kernels.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
if (!fs.existsSync(path.join(root, 'src'))) process.exit(0); // installed as a package: dist is prebuilt

for (const [what, script] of [
  ['bundles', 'scripts/build.mjs'],
  ['native kernels', 'scripts/build-native.mjs'],
]) {
  if (!fs.existsSync(path.join(root, script))) continue;
  const r = spawnSync(process.execPath, [path.join(root, script)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.warn(`fim postinstall: building the ${what} failed (exit ${r.status}); continuing without`);
}
