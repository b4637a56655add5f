import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseBudgets, parseMu, parsePositiveInt } from '../../src/extension/inputs';
import { definitionLine, modelFileKind } from '../../src/extension/modelFiles';
import { chooseRuntime, findOnPath } from '../../src/extension/runtime';
import { resolveRunStore } from '../../src/extension/storeLocation';
import { tmpDir } from '../helpers';

describe('engine runtime choice', () => {
  const bin = tmpDir();
  const node = path.join(bin, 'node');
  fs.writeFileSync(node, '#!/bin/sh\n');
  fs.chmodSync(node, 0o755);

  it('uses the configured path only in a trusted workspace', () => {
    assert.deepEqual(chooseRuntime({ configured: '/opt/node/bin/node', trusted: true, pathVar: bin, execPath: '/code' }), {
      command: '/opt/node/bin/node',
      env: {},
      source: 'setting',
    });
    const u = chooseRuntime({ configured: '/opt/node/bin/node', trusted: false, pathVar: bin, execPath: '/code' });
    assert.equal(u.command, node);
    assert.match(u.note!, /ignored in an untrusted workspace/);
  });

  it('falls back to node on PATH, then to VS Code’s runtime as Node', () => {
    assert.equal(
      chooseRuntime({ configured: '', trusted: true, pathVar: `/nonexistent${path.delimiter}${bin}`, execPath: '/code' }).command,
      node,
    );
    assert.deepEqual(chooseRuntime({ configured: ' ', trusted: true, pathVar: '/nonexistent', execPath: '/code' }), {
      command: '/code',
      env: { ELECTRON_RUN_AS_NODE: '1' },
      source: 'vscode',
    });
    assert.equal(findOnPath('node', undefined), null);
  });
});

describe('model definition files', () => {
  it('recognises model.json by its topology and modules by tfjs + default export', () => {
    assert.equal(modelFileKind('/m/model.json', '{"format":"layers-model","modelTopology":{}}'), 'model-json');
    assert.equal(modelFileKind('/m/package.json', '{"name":"x"}'), null);
    const mod = "import * as tf from '@tensorflow/tfjs';\n\nexport default function build() { return tf.sequential(); }\n";
    assert.equal(modelFileKind('/m/net.ts', mod), 'module');
    assert.equal(modelFileKind('/m/net.d.ts', mod), null);
    assert.equal(modelFileKind('/m/util.ts', 'export default 1'), null);
    assert.equal(definitionLine('module', mod), 2);
    assert.equal(definitionLine('model-json', '{\n  "format": "x",\n  "modelTopology": {}\n}'), 2);
  });
});

describe('command inputs', () => {
  it('parses μ, epochs and budgets, rejecting bad values', () => {
    assert.equal(parseMu('0.022'), 0.022);
    assert.equal(parseMu('0'), 0);
    for (const bad of ['', '-1', 'abc', 'Infinity']) assert.equal(parseMu(bad), null, bad);
    assert.equal(parsePositiveInt('3'), 3);
    for (const bad of ['0', '1.5', '', 'x']) assert.equal(parsePositiveInt(bad), null, bad);
    assert.deepEqual(parseBudgets('4, 1 2;1'), [1, 2, 4]);
    assert.equal(parseBudgets(''), null);
    assert.equal(parseBudgets('1, -2'), null);
  });
});

describe('CSV export', () => {
  it('quotes commas, quotes and newlines (RFC 4180)', async () => {
    const { toCsv } = await import('../../webview/shared/csv.js');
    const csv = toCsv(
      [
        { a: 'x,y', b: 1.5 },
        { a: 'say "hi"', b: null },
        { a: 'two\nlines', b: NaN },
      ],
      [
        ['name', (r) => r.a],
        ['value', (r) => r.b],
      ],
    );
    assert.equal(csv, 'name,value\n"x,y",1.5\n"say ""hi""",\n"two\nlines",NaN\n');
  });
});

describe('run-store location', () => {
  it('is relative to the workspace folder, absolute paths kept; untrusted workspaces use the default', () => {
    assert.equal(resolveRunStore('', '/ws', true), path.join('/ws', '.fim', 'runs'));
    assert.equal(resolveRunStore('runs', '/ws', true), path.join('/ws', 'runs'));
    assert.equal(resolveRunStore('/data/runs', undefined, true), '/data/runs');
    assert.equal(resolveRunStore('/data/runs', '/ws', false), path.join('/ws', '.fim', 'runs'));
    assert.equal(resolveRunStore('runs', undefined, true), null);
  });
});
