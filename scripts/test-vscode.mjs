// `npm run test:vscode`: extension-host integration tests with @vscode/test-electron, in a VS Code
// desktop build named by FIM_VSCODE_PATH (or VSCODE_EXECUTABLE). Nothing is downloaded: without a
// VS Code build the tests are skipped with a message (the code-server e2e test, scripts/e2e.sh,
// covers the extension in a real workbench offline).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const exe = process.env.FIM_VSCODE_PATH ?? process.env.VSCODE_EXECUTABLE ?? '';
if (!exe || !fs.existsSync(exe)) {
  console.log(
    `test:vscode skipped: set FIM_VSCODE_PATH to a VS Code executable to run the extension-host tests${exe ? ` (${exe} does not exist)` : ''}; nothing is downloaded.`,
  );
  process.exit(0);
}

const { runTests } = await import('@vscode/test-electron');
const out = path.join(root, 'out', 'host-tests');
await esbuild.build({
  entryPoints: [path.join(root, 'test/extension/host/suite.ts')],
  outfile: path.join(out, 'suite.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode'],
  logLevel: 'warning',
});
if (!fs.existsSync(path.join(root, 'dist', 'extension.js'))) {
  console.error('test:vscode: build the extension first (npm run build)');
  process.exit(1);
}

// A workspace with fixture runs and a model definition (written with the fixtures module via tsx).
const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'fim-vscode-'));
const { spawnSync } = await import('node:child_process');
const fixture = `const f = require(${JSON.stringify(path.join(root, 'test/extension/fixtures/runs.ts'))});
const store = ${JSON.stringify(path.join(ws, '.fim', 'runs'))};
require('node:fs').mkdirSync(store, { recursive: true });
f.writeFixtureRun(store, { name: 'fixture-baseline', mu: 0, seed: 3, createdAt: new Date('2026-01-01T00:00:00Z') });
f.writeFixtureRun(store, { name: 'fixture-defended', mu: 0.022, seed: 4, createdAt: new Date('2026-01-01T00:01:00Z') });`;
const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', fixture], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
fs.copyFileSync(path.join(root, 'src/engine/models/definitions/convnet.json'), path.join(ws, 'model.json'));

try {
  await runTests({
    vscodeExecutablePath: exe,
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(out, 'suite.js'),
    launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome'],
  });
} catch (e) {
  console.error(`test:vscode failed: ${e.message ?? e}`);
  process.exit(1);
} finally {
  fs.rmSync(ws, { recursive: true, force: true });
}
