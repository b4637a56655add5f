/**
 * Charts: Vega-Lite specs rendered by vega-embed as SVG, themed from VS Code, with SVG and CSV
 * export through the host (webviews cannot download). Vega's expression interpreter replaces
 * its `new Function` code generation, which the panels' CSP (no 'unsafe-eval') forbids.
 */
import embed, { type Result } from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import type { TopLevelSpec } from 'vega-lite';
import { post } from './api.js';
import { button } from './elements.js';
import { h } from './format.js';
import { vegaConfig } from './theme.js';

export interface FigureOptions {
  title: string;
  /** Base of exported file names. */
  fileName: string;
  csv?: () => string;
}

/** A titled figure with export buttons; `render` (re)draws its chart. */
export class Figure {
  readonly element: HTMLElement;
  private readonly chartEl: HTMLElement;
  private result: Result | null = null;
  private spec: TopLevelSpec | null = null;

  constructor(private readonly opts: FigureOptions) {
    this.chartEl = h('div', { class: 'chart', role: 'img', 'aria-label': opts.title });
    const actions = h(
      'div',
      { class: 'figure-actions' },
      button('SVG', () => void this.exportSvg(), { icon: 'file-media', secondary: true, title: `Export "${opts.title}" as SVG` }),
    );
    if (opts.csv)
      actions.append(
        button('CSV', () => this.exportCsv(), { icon: 'table', secondary: true, title: `Export the data of "${opts.title}" as CSV` }),
      );
    this.element = h(
      'div',
      { class: 'figure' },
      h('div', { class: 'figure-head' }, h('span', { class: 'figure-title' }, opts.title), actions),
      this.chartEl,
    );
  }

  async render(spec: TopLevelSpec): Promise<void> {
    this.spec = spec;
    this.result?.finalize();
    const withConfig = { ...spec, config: { ...vegaConfig(), ...(spec.config ?? {}) } } as TopLevelSpec;
    this.result = await embed(this.chartEl, withConfig, {
      renderer: 'svg',
      actions: false,
      ast: true,
      expr: expressionInterpreter,
      tooltip: { theme: document.body.classList.contains('vscode-light') ? 'light' : 'dark' },
      defaultStyle: false,
    });
  }

  /** Puts a keyboard-accessible legend (webview/shared/legend.ts) under the chart. */
  addLegend(el: HTMLElement): void {
    this.chartEl.after(el);
  }

  /** Redraws with the current theme. */
  async rerender(): Promise<void> {
    if (this.spec) await this.render(this.spec);
  }

  private async exportSvg(): Promise<void> {
    if (!this.result) return;
    const svg = await this.result.view.toSVG();
    post({ type: 'export', format: 'svg', fileName: this.opts.fileName, content: svg });
  }

  private exportCsv(): void {
    if (this.opts.csv) post({ type: 'export', format: 'csv', fileName: this.opts.fileName, content: this.opts.csv() });
  }

  dispose(): void {
    this.result?.finalize();
  }
}
