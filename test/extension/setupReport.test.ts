import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeKernels, nodeMajor, setupMarkdown } from '../../src/extension/setupReport';
import type { EngineInfo } from '../../src/protocol/engine';

const info: EngineInfo = {
  protocolVersion: 1,
  engineVersion: '0.1.0',
  pid: 42,
  node: 'v20.20.2',
  backend: {
    name: 'wasm',
    tfBackend: 'wasm',
    skipped: [{ name: 'tfjs-node', reason: '@tensorflow/tfjs-node is not installed' }],
    details: ['wasm SIMD (its own kernels single-threaded); native kernels on (avx512, 2 threads); native: Conv2D, MaxPool'],
  },
  models: [{ name: 'convnet', description: 'the paper’s ConvNet', defaultDataset: 'mnist' }],
  datasets: [{ name: 'mnist', description: 'MNIST', needsDataDir: false }],
  attacks: [{ name: 'ossa', title: 'OSSA', norm: 'l2', kind: 'one-step', budgetUnit: 'ε = squared l2 norm' }],
};

describe('FIM: Check Setup report', () => {
  it('names the runtime, backend, native kernels and datasets', () => {
    const r = setupMarkdown({
      runtime: { command: '/usr/bin/node', env: {}, source: 'path' },
      engine: {
        info,
        setup: {
          datasets: [
            { name: 'mnist', description: 'MNIST', needsDataDir: false, status: 'ok', detail: '60000 train / 10000 test' },
            { name: 'cifar10', description: 'CIFAR-10', needsDataDir: true, status: 'needs-folder', detail: 'a folder' },
          ],
        },
      },
      runStore: '/w/.fim/runs',
      runCount: 3,
      trusted: true,
      extensionVersion: '0.1.0',
    });
    assert.equal(r.ok, true);
    assert.equal(r.summary, 'wasm backend, native kernels on (avx512, 2 threads), Node v20.20.2, MNIST ok');
    assert.match(r.markdown, /`\/usr\/bin\/node`[\s\S]*`node` on PATH/);
    assert.match(r.markdown, /skipped tfjs-node: @tensorflow\/tfjs-node is not installed/);
    assert.match(r.markdown, /\| cifar10 \| needs a folder \|/);
    assert.match(r.markdown, /`\/w\/.fim\/runs`: 3 run\(s\)/);
  });

  it('flags an engine that did not start, a Node that is too old and a dataset that fails', () => {
    const down = setupMarkdown({
      runtime: { command: '/x/electron', env: { ELECTRON_RUN_AS_NODE: '1' }, source: 'vscode' },
      engine: { error: 'spawn /x/electron ENOENT' },
      runStore: null,
      runCount: 0,
      trusted: false,
      extensionVersion: '0.1.0',
    });
    assert.equal(down.ok, false);
    assert.match(down.summary, /the engine did not start: spawn/);
    assert.match(down.markdown, /not trusted/);
    const old = setupMarkdown({
      runtime: { command: 'node', env: {}, source: 'setting' },
      engine: {
        info: { ...info, node: 'v18.19.0' },
        setup: { datasets: [{ name: 'mnist', description: '', needsDataDir: false, status: 'error', detail: 'ENOENT t10k' }] },
      },
      runStore: '/s',
      runCount: 0,
      trusted: true,
      extensionVersion: '0.1.0',
    });
    assert.equal(old.ok, false);
    assert.match(old.markdown, /too old: the engine needs Node ≥ 20/);
    assert.match(old.markdown, /\| mnist \| \*\*error\*\* \| ENOENT t10k \|/);
    assert.equal(nodeMajor('v22.1.0'), 22);
    assert.equal(
      nativeKernels({ ...info, backend: { ...info.backend, name: 'cpu', details: [] } }),
      'not used (the cpu backend has its own kernels)',
    );
  });
});
