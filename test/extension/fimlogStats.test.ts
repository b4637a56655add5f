import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeFimlog, formatMetric, hoverMarkdown } from '../../src/extension/fimlogStats';
import { formatFimlogHeader, formatFimlogLine } from '../../src/runs/fimlog';

const t = new Date('2026-01-01T00:00:00Z');
const lines = [
  formatFimlogHeader({ run: 'r', model: 'convnet', dataset: 'mnist', mu: 0.022, epochs: 2, batch: 64 }),
  formatFimlogLine('info', { msg: 'backend wasm' }, t),
  formatFimlogLine(
    'step',
    { epoch: 1, step: 2, epoch_step: '2/4', loss: 2.5, ce: 2.0, trace_gs: 40, lmax_gs: 9, acc: 0.2, samples_per_s: 100 },
    t,
  ),
  formatFimlogLine(
    'step',
    { epoch: 1, step: 4, epoch_step: '4/4', loss: 1.5, ce: 1.2, trace_gs: 55, lmax_gs: 12, acc: 0.5, samples_per_s: 110 },
    t,
  ),
  formatFimlogLine('epoch', { epoch: 1, step: 4, loss: 2.0, ce: 1.6, acc: 0.35, trace_gs: 50, test_acc: 0.6, test_ce: 1.1 }, t),
  formatFimlogLine(
    'step',
    { epoch: 2, step: 6, epoch_step: '2/4', loss: 1.0, ce: 0.8, trace_gs: 30, lmax_gs: 8, acc: 0.7, samples_per_s: 120 },
    t,
  ),
  formatFimlogLine('epoch', { epoch: 2, step: 8, loss: 0.9, ce: 0.7, acc: 0.75, trace_gs: 25, test_acc: 0.8, test_ce: 0.6 }, t),
  '',
];
const text = lines.join('\n');

describe('fimlog hover', () => {
  const a = analyzeFimlog(text);

  it('indexes records by line and reads the header', () => {
    assert.equal(a.records.length, 6);
    assert.equal(a.header.epochs, 2);
    assert.equal(a.stepsPerEpoch, 4);
    assert.equal(a.lastStep, 8);
    assert.equal(a.byLine.get(2), 1);
  });

  it('shows no hover on the header, info lines and blank lines', () => {
    assert.equal(hoverMarkdown(a, 0), null);
    assert.equal(hoverMarkdown(a, 1), null);
    assert.equal(hoverMarkdown(a, 7), null);
  });

  it('shows a first-epoch step with position and running min/max of tr G_s, no comparison', () => {
    const md = hoverMarkdown(a, 3)!;
    assert.match(md, /\*\*Step 4\*\* — epoch 1 of 2, step 4\/4 within it/);
    assert.match(md, /Position: step 4 of 8 \(50\.0% of the run\); record 3 of 6/);
    assert.match(md, /tr G_s so far: min 40 \(line 3\), max 55 \(line 4\)/);
    assert.match(md, /\| accuracy \| 50\.00% \|/);
    assert.match(md, /First epoch: no previous epoch/);
    assert.doesNotMatch(md, /vs end of epoch/);
  });

  it('compares a step of epoch 2 with the end of epoch 1 (absolute and relative change)', () => {
    const md = hoverMarkdown(a, 5)!;
    assert.match(md, /vs end of epoch 1/);
    assert.match(md, /\| loss \| 1 \| −1 \(−50\.0%\) \|/);
    assert.match(md, /\| tr G_s \(batch mean\) \| 30 \| −20 \(−40\.0%\) \|/);
    assert.match(md, /\| accuracy \| 70\.00% \| \+35\.00 pp \|/);
    assert.match(md, /min 30 \(line 6\), max 55 \(line 4\)/);
  });

  it('describes epoch lines and their test metrics', () => {
    const md = hoverMarkdown(a, 6)!;
    assert.match(md, /\*\*Epoch 2 of 2\*\* \(end of epoch, after 8 steps\)/);
    assert.match(md, /\| test accuracy \| 80\.00% \| \+20\.00 pp \|/);
    assert.match(md, /min 25 \(line 7\)/);
  });

  it('formats metrics: percentages, integers, tiny and huge values', () => {
    assert.equal(formatMetric('acc', 0.98765), '98.77%');
    assert.equal(formatMetric('step', 12), '12');
    assert.equal(formatMetric('loss', 2.5), '2.5');
    assert.equal(formatMetric('loss', 0.123456), '0.12346');
    assert.equal(formatMetric('trace_gs', 123456.7), '1.235e+5');
    assert.equal(formatMetric('loss', 0.000123), '1.230e-4');
  });

  it('tolerates a torn last line and unknown kinds', () => {
    const b = analyzeFimlog(text + '2026-01-01T00:00:00.000Z step epoch=2 step=9 loss=0.8 trace_g');
    assert.equal(b.records.length, 7);
    assert.match(hoverMarkdown(b, 7)!, /\*\*Step 9\*\*/);
    assert.equal(analyzeFimlog('garbage\nmore garbage').records.length, 0);
  });
});
