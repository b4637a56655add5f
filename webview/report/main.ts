/**
 * A reproduction's report: the very report.html `fim reproduce` writes (rebuilt after every
 * stage), shown under the panels' CSP, with the stages and where the running one is above it.
 * The report is parsed with DOMParser (which runs nothing) and its body and styles are moved into
 * a shadow root, so its light "paper" styles do not leak into the panel and the panel's theme does
 * not restyle it; scripts and event-handler attributes are dropped (the report has none but its
 * JSON data block).
 */
import type { ReportData } from '../../src/protocol/webview.js';
import type { ReproduceStageProgress } from '../../src/runs/reproduce.js';
import { post, startPanel } from '../shared/api.js';
import { button } from '../shared/elements.js';
import { h, pct } from '../shared/format.js';
import { errorBanner, initPage, stat } from '../shared/page.js';
import { addStyles } from '../shared/styles.js';
import { scopeReportCss } from './scope.js';

addStyles(`
.stages { margin: 6px 0 10px; }
.stage-list { list-style: none; padding: 0; margin: 4px 0; columns: 2 380px; font-size: 0.92em; }
.stage-list li { break-inside: avoid; padding: 1px 0; }
.st { display: inline-block; min-width: 74px; font-size: 0.85em; padding: 0 6px; border-radius: 8px; margin-right: 6px; text-align: center; color: var(--vscode-badge-foreground); background: var(--vscode-badge-background); }
.st-done, .st-reused { background: var(--vscode-testing-iconPassed, #388a34); color: #fff; }
.st-failed, .st-interrupted { background: var(--vscode-testing-iconFailed, #c72e0f); color: #fff; }
.st-running { background: var(--vscode-progressBar-background, #0e70c0); color: #fff; }
progress { width: min(520px, 100%); height: 10px; }
.report-host { background: #fff; color: #1b1b1b; border-radius: 4px; margin-top: 12px; }
`);

const app = initPage();
let shadow: ShadowRoot | null = null;
let shownHtml: string | null = null;

function reportNode(html: string): DocumentFragment {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  for (const s of Array.from(doc.querySelectorAll('script, iframe, object, embed, link, meta'))) s.remove();
  for (const el of Array.from(doc.querySelectorAll('*')))
    for (const a of Array.from(el.attributes)) if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)) el.removeAttribute(a.name);
  const frag = document.createDocumentFragment();
  for (const st of Array.from(doc.querySelectorAll('style'))) {
    const own = document.createElement('style');
    own.textContent = scopeReportCss(st.textContent ?? '');
    frag.append(own);
  }
  const body = h('div', { class: 'report-body' });
  body.append(...Array.from(doc.body.childNodes).map((n) => document.importNode(n, true)));
  frag.append(body);
  return frag;
}

function showReport(host: HTMLElement, html: string): void {
  if (!host.shadowRoot) {
    const root = host.attachShadow({ mode: 'open' });
    shadow = root;
    // In-page links (#fig3 …) point into the shadow root, where the document cannot follow them.
    root.addEventListener('click', (e) => {
      const href = (e.target as HTMLElement).closest('a')?.getAttribute('href');
      if (!href?.startsWith('#')) return;
      e.preventDefault();
      root.getElementById(href.slice(1))?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
  }
  if (html === shownHtml || !shadow) return;
  shownHtml = html;
  shadow.replaceChildren(reportNode(html));
}

const STATUS_TEXT: Record<ReproduceStageProgress['status'], string> = {
  pending: 'pending',
  reused: 'reused',
  running: 'running',
  done: 'done',
  failed: 'failed',
  interrupted: 'interrupted',
  waiting: 'waiting',
};

let reportHost: HTMLElement | null = null;

function render(d: ReportData): void {
  const p = d.progress;
  const stages = p?.stages ?? [];
  const count = (s: ReproduceStageProgress['status']) => stages.filter((x) => x.status === s).length;
  const finished = count('done') + count('reused');
  const head = h(
    'div',
    {},
    h('h1', {}, `Reproduction: ${d.name}`),
    h(
      'p',
      { class: 'meta' },
      `${d.mode ?? '?'} plan · ${d.dir}`,
      d.live ? ' · ' : '',
      d.live ? h('vscode-badge', { variant: 'counter' }, 'live') : '',
    ),
  );
  const actions = h('div', { class: 'toolbar' });
  if (d.runningHere)
    actions.append(
      button('Stop', () => post({ type: 'command', command: 'stopReproduction', path: d.dir }), {
        icon: 'debug-stop',
        secondary: true,
        title: 'Stop after the current step (again: kill it)',
      }),
    );
  else if (!d.live && stages.length > 0 && finished < stages.length)
    actions.append(
      button('Resume', () => post({ type: 'command', command: 'resumeReproduction', path: d.dir }), {
        icon: 'debug-continue',
        title: 'Continue with this directory’s plan',
      }),
    );
  actions.append(button('Open folder', () => post({ type: 'reveal', path: d.dir }), { icon: 'folder-opened', secondary: true }));
  const nodes: Node[] = [head, actions];
  if (p) {
    const c = p.current;
    const running = c ? stages[c.index] : undefined;
    nodes.push(
      h(
        'div',
        { class: 'stats' },
        stat('stages done', `${finished}/${stages.length}`),
        stat('failed', String(count('failed'))),
        stat('state', d.live ? 'running' : p.state === 'running' ? 'interrupted' : p.state),
      ),
    );
    if (d.live && c && running) {
      const bar = h('progress', { max: 1, value: c.fraction, 'aria-label': `stage ${c.index + 1} of ${stages.length}: ${running.title}` });
      nodes.push(
        h('p', { role: 'status' }, `[${c.index + 1}/${stages.length}] ${running.title}: ${c.message} (${pct(c.fraction, 0)})`),
        bar,
      );
    } else if (!d.live && p.state === 'running') {
      nodes.push(
        h(
          'p',
          { class: 'hint' },
          `The fim reproduce working here (pid ${p.pid}) is gone: it was interrupted. Resume continues it; finished stages are kept.`,
        ),
      );
    }
    const list = h(
      'ol',
      { class: 'stage-list' },
      ...stages.map((s) =>
        h(
          'li',
          {},
          h('span', { class: `st st-${s.status}` }, STATUS_TEXT[s.status]),
          s.title,
          s.wallSeconds !== undefined ? h('span', { class: 'meta' }, ` ${Math.round(s.wallSeconds)} s`) : '',
          s.message ? h('span', { class: 'meta' }, ` — ${s.message}`) : '',
        ),
      ),
    );
    nodes.push(h('vscode-collapsible', { class: 'stages', title: `Stages (${finished} of ${stages.length} done)`, open: d.live }, list));
  }
  if (!d.html) {
    nodes.push(
      h(
        'p',
        { class: 'hint' },
        d.live ? 'The report appears after the first stage has finished…' : 'This reproduction has no report.html yet.',
      ),
    );
    reportHost = null;
    shadow = null;
    shownHtml = null;
    app.replaceChildren(...nodes);
    return;
  }
  reportHost ??= h('div', { class: 'report-host', role: 'document', 'aria-label': 'reproduction report' });
  nodes.push(reportHost);
  app.replaceChildren(...nodes);
  showReport(reportHost, d.html);
}

startPanel('report', {
  data: render,
  error: (m) => app.replaceChildren(errorBanner(m)),
});
