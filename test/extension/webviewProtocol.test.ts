import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEvalName } from '../../src/protocol/names';
import { panelDirs, parsePanelKey, parseWebviewMessage, parseWebviewState, roleOf } from '../../src/protocol/webview';

describe('messages from webviews are validated by the host', () => {
  it('accepts the declared messages', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'initialized' }), { ok: true, message: { type: 'initialized' } });
    const ex = parseWebviewMessage({ type: 'export', format: 'csv', fileName: 'run 1/metrics', content: 'a,b\n' });
    assert.deepEqual(ex, { ok: true, message: { type: 'export', format: 'csv', fileName: 'run-1-metrics.csv', content: 'a,b\n' } });
    assert.equal(parseWebviewMessage({ type: 'open', key: { kind: 'fooling', runDirs: ['/a', '/b'] } }).ok, true);
    assert.equal(parseWebviewMessage({ type: 'reveal', path: '/a/evals/x.json' }).ok, true);
  });

  it('rejects anything else with a reason', () => {
    for (const bad of [
      null,
      'initialized',
      42,
      {},
      { type: 'eval', code: 'x' },
      { type: 'export', format: 'exe', fileName: 'a', content: '' },
      { type: 'export', format: 'svg', fileName: '', content: '' },
      { type: 'export', format: 'svg', fileName: 'a', content: 5 },
      { type: 'open', key: { kind: 'inspect', runDir: '/a', evalName: '../../etc/passwd' } },
      { type: 'open', key: { kind: 'fooling', runDirs: [] } },
      { type: 'reveal' },
    ]) {
      const r = parseWebviewMessage(bad);
      assert.equal(r.ok, false, JSON.stringify(bad));
      if (!r.ok) assert.ok(r.reason.length > 0);
    }
  });

  it('export file names cannot escape: separators and leading dots are removed', () => {
    const r = parseWebviewMessage({ type: 'export', format: 'svg', fileName: '../../.bashrc', content: '<svg/>' });
    assert.ok(r.ok && r.message.type === 'export' && !r.message.fileName.includes('/') && !r.message.fileName.startsWith('.'));
  });

  it('panel keys and restored state', () => {
    assert.deepEqual(parsePanelKey({ kind: 'adversarial', runDir: '/r' }), { kind: 'adversarial', runDir: '/r' });
    assert.equal(parsePanelKey({ kind: 'inspect', runDir: '/r' }), null);
    assert.equal(parsePanelKey({ kind: 'other', runDir: '/r' }), null);
    assert.deepEqual(parseWebviewState({ key: { kind: 'training', runDir: '/r' }, ui: { sortKey: 'x' } }), {
      key: { kind: 'training', runDir: '/r' },
      ui: { sortKey: 'x' },
    });
    assert.deepEqual(parseWebviewState({ key: { kind: 'training', runDir: '/r' }, ui: 'nope' }), {
      key: { kind: 'training', runDir: '/r' },
      ui: {},
    });
    assert.equal(parseWebviewState(undefined), null);
    assert.equal(isEvalName('sweep-ossa'), true);
    assert.equal(isEvalName('.hidden'), false);
    assert.equal(roleOf(0), 'baseline');
    assert.equal(roleOf(null), 'baseline');
    assert.equal(roleOf(0.022), 'defended');
  });
});

describe('the panels added for reproductions and the evaluations', () => {
  it('accepts their keys and nothing malformed', () => {
    assert.deepEqual(parsePanelKey({ kind: 'report', dir: '/w/.fim/reproduce-quick' }), { kind: 'report', dir: '/w/.fim/reproduce-quick' });
    for (const kind of ['distance', 'transfer', 'worstcase', 'curves'])
      assert.deepEqual(parsePanelKey({ kind, runDirs: ['/a', '/b'] }), { kind, runDirs: ['/a', '/b'] });
    assert.equal(parsePanelKey({ kind: 'report' }), null);
    assert.equal(parsePanelKey({ kind: 'curves', runDirs: [] }), null);
    assert.equal(parsePanelKey({ kind: 'transfer', runDirs: ['/a', 3] }), null);
    assert.equal(parsePanelKey({ kind: 'worstcase', runDir: '/a' }), null);
  });

  it('a panel may ask only for the declared commands, on a path', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'stopReproduction', path: '/w/.fim/r' }), {
      ok: true,
      message: { type: 'command', command: 'stopReproduction', path: '/w/.fim/r' },
    });
    for (const bad of [
      { type: 'command', command: 'fim.trainDefended', path: '/w' },
      { type: 'command', command: 'workbench.action.terminal.sendSequence', path: '/w' },
      { type: 'command', command: 'resumeReproduction' },
    ])
      assert.equal(parseWebviewMessage(bad).ok, false, JSON.stringify(bad));
  });

  it('names the directories a panel shows (what reveal and command may touch)', () => {
    assert.deepEqual(panelDirs({ kind: 'report', dir: '/d' }), ['/d']);
    assert.deepEqual(panelDirs({ kind: 'inspect', runDir: '/r', evalName: 'inspect' }), ['/r']);
    assert.deepEqual(panelDirs({ kind: 'transfer', runDirs: ['/a', '/b'] }), ['/a', '/b']);
  });
});
