/**
 * What the extension refuses on the workspace's or a webview's say-so: run paths from webview
 * messages and restored panel states outside the run store (symbolic links resolved), evaluation
 * names that leave evals/ (the one rule of protocol/names.ts), and, in a restricted workspace,
 * resuming a run whose config names a model definition; the engine it starts is told the trust
 * state and refuses the same itself.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { EngineClient, newJobId } from '../../src/extension/engineProcess';
import { confinePanelKey, revealablePath } from '../../src/extension/panels/panelPaths';
import { untrustedResumeProblem } from '../../src/extension/trust';
import { Resume } from '../../src/protocol/engine';
import { parsePanelKey, parseWebviewMessage, parseWebviewState } from '../../src/protocol/webview';
import { writeJsonAtomic } from '../../src/runs/atomic';
import { runFile } from '../../src/runs/paths';
import { bundled } from '../cliBundle';
import { tmpDir } from '../helpers';

function layout() {
  const ws = tmpDir('fim-ext-ws-');
  const store = path.join(ws, '.fim', 'runs');
  const run = path.join(store, 'r1');
  fs.mkdirSync(path.join(run, 'evals'), { recursive: true });
  const outside = tmpDir('fim-ext-out-');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'x');
  fs.symlinkSync(outside, path.join(store, 'sneaky'));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(run, 'evals', 'link.txt'));
  return { ws, store, run, outside };
}

describe('panel keys from webviews and restored state', () => {
  it('keep run directories inside the run store, as real paths', () => {
    const { store, run, outside } = layout();
    const real = fs.realpathSync(run);
    assert.deepEqual(confinePanelKey({ kind: 'training', runDir: run }, [store]), { kind: 'training', runDir: real });
    assert.deepEqual(confinePanelKey({ kind: 'training', runDir: path.join(store, 'r1', '..', 'r1') }, [store]), {
      kind: 'training',
      runDir: real,
    });
    assert.equal(confinePanelKey({ kind: 'training', runDir: outside }, [store]), null, 'outside the store');
    assert.equal(
      confinePanelKey({ kind: 'inspect', runDir: path.join(store, 'sneaky'), evalName: 'x' }, [store]),
      null,
      'a link out of the store',
    );
    assert.equal(confinePanelKey({ kind: 'training', runDir: path.join(store, 'missing') }, [store]), null, 'a run that does not exist');
    assert.equal(confinePanelKey({ kind: 'fooling', runDirs: [run, outside] }, [store]), null, 'one bad run spoils the set');
    assert.deepEqual(confinePanelKey({ kind: 'autoattack', runDir: run, evalName: 'aa' }, [store]), {
      kind: 'autoattack',
      runDir: real,
      evalName: 'aa',
    });
    assert.equal(confinePanelKey({ kind: 'autoattack', runDir: path.join(store, 'sneaky') }, [store]), null, 'the AutoAttack panel too');
    assert.equal(confinePanelKey({ kind: 'training', runDir: '/' }, [store]), null);
  });

  it('keep a defence comparison in the workspace’s .fim/ (a root beside the run store), and reveal only inside it', () => {
    const { ws, store, outside } = layout();
    const repro = path.join(ws, '.fim', 'reproduce-defences');
    fs.mkdirSync(repro);
    fs.writeFileSync(path.join(repro, 'report.json'), '{}');
    const real = fs.realpathSync(repro);
    const roots = [store, path.join(ws, '.fim')];
    assert.deepEqual(confinePanelKey({ kind: 'defences', reproduceDir: repro }, roots), { kind: 'defences', reproduceDir: real });
    assert.equal(confinePanelKey({ kind: 'defences', reproduceDir: outside }, roots), null, 'outside .fim');
    assert.equal(confinePanelKey({ kind: 'defences', reproduceDir: ws }, roots), null, 'the workspace above .fim');
    const key = { kind: 'defences' as const, reproduceDir: real };
    assert.equal(revealablePath(path.join(repro, 'report.json'), key), fs.realpathSync(path.join(repro, 'report.json')));
    assert.equal(revealablePath(path.join(store, 'r1'), key), null, 'a run the comparison does not show');
  });

  it('the report and multi-run panels: inside the store or a reproduction directory, as real paths', () => {
    const { ws, store, run, outside } = layout();
    const repro = path.join(ws, '.fim', 'reproduce-quick');
    const reproRun = path.join(repro, 'runs', 'repro-mu0-s0');
    fs.mkdirSync(reproRun, { recursive: true });
    const roots = [store, path.join(ws, '.fim')];
    assert.deepEqual(confinePanelKey({ kind: 'report', dir: repro }, roots), { kind: 'report', dir: fs.realpathSync(repro) });
    assert.equal(confinePanelKey({ kind: 'report', dir: outside }, roots), null, 'a report outside');
    assert.equal(confinePanelKey({ kind: 'report', dir: repro }, [store]), null, 'not a root');
    for (const kind of ['distance', 'transfer', 'worstcase', 'curves'] as const) {
      assert.deepEqual(confinePanelKey({ kind, runDirs: [run, reproRun] }, roots), {
        kind,
        runDirs: [fs.realpathSync(run), fs.realpathSync(reproRun)],
      });
      assert.equal(confinePanelKey({ kind, runDirs: [run, path.join(store, 'sneaky')] }, roots), null, `${kind}: a link out`);
    }
    const report = { kind: 'report' as const, dir: fs.realpathSync(repro) };
    assert.equal(revealablePath(path.join(reproRun), report), fs.realpathSync(reproRun));
    assert.equal(revealablePath(path.join(outside, 'secret.txt'), report), null);
  });

  it('reveal only what is inside the panel’s runs, links resolved', () => {
    const { run, outside } = layout();
    const key = { kind: 'training' as const, runDir: fs.realpathSync(run) };
    assert.equal(revealablePath(path.join(run, 'evals'), key), fs.realpathSync(path.join(run, 'evals')));
    assert.equal(revealablePath(path.join(run, 'evals', 'link.txt'), key), null, 'a link to a file outside');
    assert.equal(revealablePath(`${run}-other`, key), null, 'a sibling that shares the prefix');
    assert.equal(revealablePath(path.join(outside, 'secret.txt'), key), null);
    assert.equal(revealablePath(42, key), null);
  });

  it('evaluation names follow the one rule: . and .. are rejected in messages and states', () => {
    for (const evalName of ['.', '..', '../x', '.hidden', 'a/b', '']) {
      assert.equal(parsePanelKey({ kind: 'inspect', runDir: '/r', evalName }), null, evalName);
      assert.equal(parseWebviewMessage({ type: 'open', key: { kind: 'adversarial', runDir: '/r', evalName } }).ok, false, evalName);
      assert.equal(parseWebviewState({ key: { kind: 'inspect', runDir: '/r', evalName }, ui: {} }), null, evalName);
    }
    assert.ok(parsePanelKey({ kind: 'inspect', runDir: '/r', evalName: 'inspect-1' }));
  });
});

describe('restricted mode', () => {
  it('resuming is refused for a run whose config names anything but a built-in model', () => {
    const builtins = ['convnet', 'vgg11', 'resnet14'];
    assert.equal(untrustedResumeProblem('convnet', false, builtins), null);
    assert.match(untrustedResumeProblem('evil.js', false, builtins) ?? '', /not trusted, and a model module is code/);
    assert.match(untrustedResumeProblem('/abs/model.json', false, builtins) ?? '', /model definition file/);
    assert.match(untrustedResumeProblem('sub/dir/net.ts', false, builtins) ?? '', /model module/);
    assert.equal(untrustedResumeProblem('evil.js', true, builtins), null, 'trusted: allowed');
  });

  it('the engine the extension starts is told the trust state and refuses the workspace’s model code', async () => {
    const ws = tmpDir('fim-ext-engine-');
    const marker = path.join(tmpDir('fim-ext-marker-'), 'ran');
    fs.writeFileSync(
      path.join(ws, 'evil.js'),
      `require('fs').writeFileSync(${JSON.stringify(marker)}, '1'); module.exports = () => null;\n`,
    );
    const run = path.join(ws, '.fim', 'runs', 'shipped');
    fs.mkdirSync(run, { recursive: true });
    writeJsonAtomic(runFile(run, 'config'), {
      formatVersion: 1,
      name: 'shipped',
      model: 'evil.js',
      dataset: 'mnist',
      mu: 0,
      labelSmoothing: 0,
      epochs: 1,
      batchSize: 8,
      learningRate: 1e-3,
      seed: 0,
      trainSamples: 16,
      testSamples: 8,
      backendRequested: 'wasm',
      createdAt: '',
    });
    writeJsonAtomic(runFile(run, 'status'), { state: 'incomplete', startedAt: '', updatedAt: '', epoch: 0, step: 0, totalSteps: 2 });
    const script = await bundled('engine');
    // As src/extension/engine.ts builds them: the trust state goes into every initialize.
    const client = new EngineClient(
      () => ({ command: process.execPath, args: [script], env: { ...process.env, FIM_BACKEND: 'wasm' }, cwd: ws }),
      () => ({ protocolVersion: 1, backend: 'wasm', trusted: false }),
    );
    try {
      await assert.rejects(client.job(Resume, { jobId: newJobId('resume'), runDir: run }), /this workspace is not trusted/);
      assert.ok(!fs.existsSync(marker), 'the module did not run');
    } finally {
      await client.dispose();
    }
  });
});
