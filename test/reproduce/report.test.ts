import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { parse, type DefaultTreeAdapterMap } from 'parse5';
import { renderHtml, SECTIONS } from '../../src/reproduce/report/html';
import { FILES, readState, runReproduce } from '../../src/reproduce/orchestrate';
import { stagesOf } from '../../src/reproduce/plan';
import type { ReproduceProgress, ReproduceReport } from '../../src/runs/reproduce';
import { tmpDir, useEngineBackend } from '../helpers';
import { tinyPlan } from './tinyPlan';

/**
 * The reproduction end to end on a tiny configuration: every stage runs, the report is valid
 * HTML with every section and a well-formed inline SVG per chart, self-contained (no external
 * resources, no executable script), its JSON agrees with the files, and an interrupted
 * reproduction resumes without redoing finished stages.
 */
type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

let dir: string;
let out: string;
let report: ReproduceReport;
let html: string;
/** At each stage end: progress.json's statuses, and whether a report was there already. */
const snapshots: { key: string; progress: ReproduceProgress; reportExists: boolean }[] = [];

function walk(n: Node, f: (e: Element) => void): void {
  if ('tagName' in n) f(n);
  for (const c of ('childNodes' in n ? n.childNodes : []) as Node[]) walk(c, f);
  if ('content' in n && n.content) walk(n.content, f);
}
const attr = (e: Element, name: string) => e.attrs.find((a) => a.name === name)?.value;

before(async () => {
  await useEngineBackend();
  dir = tmpDir('fim-repro-');
  out = path.join(dir, 'out');
  const plan = tinyPlan(dir);
  const r = await runReproduce(plan, out, {
    onStageEnd: (s) =>
      snapshots.push({
        key: s.key,
        progress: JSON.parse(fs.readFileSync(path.join(out, FILES.progress), 'utf8')) as ReproduceProgress,
        reportExists: fs.existsSync(path.join(out, FILES.reportHtml)),
      }),
  });
  assert.equal(r.failed, 0, JSON.stringify(Object.values(readState(out).stages).filter((s) => s.status === 'failed')));
  assert.equal(r.cancelled, false);
  report = r.report;
  html = fs.readFileSync(r.htmlFile, 'utf8');
});

test('every stage finishes and the report holds each figure and table beside the paper', () => {
  assert.equal(report.complete, true);
  assert.equal(report.stages.length, stagesOf(report.plan).length);
  assert.deepEqual(
    report.accuracy.map((a) => a.mu),
    [0, 0.02],
  );
  for (const a of report.accuracy)
    assert.ok(a.mean !== null && a.mean > 0.2 && a.pooledCi![0] <= a.mean && a.mean <= a.pooledCi![1], `${a.label}: ${a.mean}`);
  assert.equal(report.fig3.length, 2);
  for (const s of [...report.fig3, ...report.fig5]) {
    assert.deepEqual(
      s.points.map((p) => p.epsilon),
      [1, 6],
    );
    for (const p of s.points) assert.ok(p.correct > 0 && p.ci[0] <= p.ratio + 1e-12 && p.ratio <= p.ci[1] + 1e-12);
  }
  assert.equal(report.fig3[0]!.points[0]!.clipped !== undefined, true, 'OSSA reports the clipped ratio beside the unclipped one');
  assert.deepEqual(
    report.fig5.map((s) => s.attack),
    ['fgm', 'fgm', 'otcm', 'otcm', 'fgsm', 'fgsm'],
  );
  // FGSM's l∞ budget for ε = 6 (squared l2) is √6/28.
  assert.ok(Math.abs(report.fig5.find((s) => s.attack === 'fgsm')!.points[1]!.attackBudget - Math.sqrt(6) / 28) < 1e-9);
  assert.deepEqual(
    report.table1.map((r) => r.attack),
    ['fgsm', 'deepfool'],
  );
  for (const r of report.table1) {
    assert.ok(r.paper && r.baseline && r.defended, r.attack);
    assert.ok(r.ratio === null || r.ratio === r.defended.mean / r.baseline.mean);
  }
  assert.equal(report.table1.find((r) => r.attack === 'fgsm')!.paper!.baseline, 0.107, "the paper's published value, not ours");
  assert.deepEqual(
    report.table2.map((r) => r.attack),
    ['fgsm', 'ossa'],
  );
  assert.ok(report.table2.every((r) => r.baselineToDefended && r.defendedToBaseline));
  assert.equal(report.fim.length, 2);
  assert.equal(report.sanity.length, 8);
  // AutoAttack at each planned budget on the baseline and the headline model, PGD-40 beside it.
  assert.deepEqual(
    report.autoattack!.map((x) => `${x.norm} ${x.epsilon}`),
    ['linf 0.3', 'l2 2'],
  );
  for (const x of report.autoattack!) {
    for (const c of [x.baseline!, x.defended!]) {
      assert.equal(c.samples, 12);
      assert.ok(c.ci[0] <= c.robustAccuracy + 1e-12 && c.robustAccuracy <= c.ci[1] + 1e-12);
      assert.deepEqual(
        c.after.map((a) => a.attack.replace(/-l2$/, '')),
        ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
      );
      assert.ok(c.pgd40 && c.pgd40.robustAccuracy >= 0);
    }
  }
  assert.equal(report.curves!.length, 4, 'a curve per model and norm');
  assert.ok(report.findings.some((f) => f.topic.startsWith('AutoAttack robust accuracy')));
  assert.ok(report.sanity.every((s) => ['pass', 'warn', 'fail', 'skipped'].includes(s.status) && s.summary.length > 0));
  assert.ok(report.findings.some((f) => f.topic.startsWith('Fig. 3')) && report.findings.some((f) => f.topic.startsWith('Table 1')));
  assert.ok(report.wallSeconds > 0 && report.environment.backend === 'wasm' && report.environment.cpus > 0);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, FILES.reportJson), 'utf8')).findings, report.findings);
});

test('the HTML parses cleanly, has every section and one well-formed SVG per chart, and loads nothing from outside', () => {
  const errors: string[] = [];
  const doc = parse(html, { onParseError: (e) => errors.push(`${e.code} at line ${e.startLine}`) });
  assert.deepEqual(errors, [], 'no HTML parse errors');
  const sections = new Map<string, Element>();
  const external: string[] = [];
  const scripts: string[] = [];
  walk(doc, (e) => {
    if (e.tagName === 'section') sections.set(attr(e, 'id') ?? '', e);
    for (const a of ['src', 'href', 'xlink:href']) {
      const v = attr(e, a);
      if (v && !v.startsWith('#')) external.push(`${e.tagName} ${a}=${v}`);
    }
    if (e.tagName === 'link') external.push('link');
    if (e.tagName === 'script') scripts.push(attr(e, 'type') ?? 'text/javascript');
  });
  assert.deepEqual([...sections.keys()], [...SECTIONS]);
  assert.deepEqual(external, [], 'self-contained');
  assert.deepEqual(scripts, ['application/json'], 'only the inert embedded report data');
  for (const id of ['fig2', 'fig3', 'fig5', 'table1', 'autoattack']) {
    const svgs: Element[] = [];
    walk(sections.get(id)!, (e) => e.tagName === 'svg' && svgs.push(e));
    assert.equal(svgs.length >= 1, true, `${id} has an inline SVG chart`);
    const svg = svgs[0]!;
    assert.equal(attr(svg, 'xmlns'), 'http://www.w3.org/2000/svg');
    assert.ok(Number(attr(svg, 'width')) > 100 && Number(attr(svg, 'height')) > 100, `${id}: sized`);
    let marks = 0;
    walk(svg, (e) => (marks += e.tagName === 'path' || e.tagName === 'line' || e.tagName === 'rect' ? 1 : 0));
    assert.ok(marks > 10, `${id}: the chart draws marks (${marks})`);
  }
  assert.match(html, /squared l2 norm/, 'the ε convention is stated');
  const embedded = html.match(/<script type="application\/json" id="fim-reproduce-report">([\s\S]*?)<\/script>/)![1]!;
  assert.equal(JSON.parse(embedded).createdAt, report.createdAt);
});

test('progress.json follows the stages, and the report is rebuilt after each one (live)', () => {
  const stages = stagesOf(report.plan);
  assert.equal(snapshots.length, stages.length);
  snapshots.forEach((snap, i) => {
    assert.equal(snap.progress.pid, process.pid);
    assert.equal(snap.progress.state, 'running');
    assert.deepEqual(
      snap.progress.stages.map((s) => s.status),
      stages.map((_, j) => (j <= i ? 'done' : 'pending')),
      `after ${snap.key}`,
    );
    // The hook runs before the rebuild that follows the stage: from the second stage on, a report is there.
    assert.equal(snap.reportExists, i > 0, `report.html after ${snap.key}`);
  });
  const final = JSON.parse(fs.readFileSync(path.join(out, FILES.progress), 'utf8')) as ReproduceProgress;
  assert.equal(final.state, 'finished');
  assert.equal(final.current, undefined);
  assert.ok(final.stages.every((s) => s.status === 'done' && s.wallSeconds !== undefined));
});

test('every value from the plan, the stage state and the evaluations is escaped: markup in them injects no element', async () => {
  // plan.json and state.json are files a user (or a repository) can edit; the CSP blocks scripts,
  // but markup must not reach the page either.
  const evil = '<pwn-x onclick="alert(1)">';
  const tampered = structuredClone(report) as unknown as Record<string, unknown>;
  const poison = (v: unknown): unknown => {
    if (typeof v === 'string') return `${evil}${v}`;
    if (Array.isArray(v)) return v.map(poison);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x)]));
    return v;
  };
  const r = poison(tampered) as ReproduceReport;
  // Plan numbers are printed as they are: a tampered plan.json can hold a string in their place.
  const plan = r.plan as unknown as Record<string, unknown>;
  for (const k of ['trainSamples', 'testSamples', 'epochs', 'batchSize', 'learningRate']) plan[k] = evil;
  plan.mus = [evil];
  plan.seeds = [evil];
  plan.muRoles = { fig5: evil, headline: evil, tables: evil };
  (plan.table2 as Record<string, unknown>).ossaBudget = evil;
  (plan.inspect as Record<string, unknown>).samples = evil;
  (r.environment as unknown as Record<string, unknown>).cpus = evil;
  const page = await renderHtml(r);
  const injected: string[] = [];
  walk(parse(page), (e) => {
    if (e.tagName === 'pwn-x' || e.attrs.some((a) => a.name === 'onclick')) injected.push(e.tagName);
  });
  assert.deepEqual(injected, []);
  assert.ok(page.includes('&lt;pwn-x'), 'the markup is shown as text');
});

test('a second invocation reuses every finished stage and an unfinished one resumes', async () => {
  const statePath = path.join(out, FILES.state);
  const state = readState(out);
  // Pretend the Fig. 3 sweep of the defended model was interrupted.
  const key = 'sweep:ossa:mu0.02:s0';
  state.stages[key] = { ...state.stages[key]!, status: 'started' };
  fs.writeFileSync(statePath, JSON.stringify(state));
  const ran: string[] = [];
  const again = await runReproduce(report.plan, out, { onStageStart: (s) => ran.push(s.key) });
  assert.deepEqual(ran, [key]);
  const progress = JSON.parse(fs.readFileSync(path.join(out, FILES.progress), 'utf8')) as ReproduceProgress;
  assert.deepEqual(
    progress.stages.filter((s) => s.status !== 'reused').map((s) => [s.key, s.status]),
    [[key, 'done']],
  );
  assert.equal(again.report.complete, true);
  assert.equal(readState(out).stages[key]!.attempts, 2);
  assert.equal(again.report.sessions.length, 2);
});
