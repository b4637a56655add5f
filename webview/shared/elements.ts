/** The @vscode-elements/elements components the panels use (each registers its custom element). */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-header/index.js';
import '@vscode-elements/elements/dist/vscode-table-header-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import { h } from './format.js';

/** A toolkit button; `icon` is a codicon name. */
export function button(label: string, onClick: () => void, opts: { icon?: string; secondary?: boolean; title?: string } = {}): HTMLElement {
  const b = h('vscode-button', { icon: opts.icon, secondary: opts.secondary, title: opts.title ?? label }, label);
  b.addEventListener('click', onClick);
  return b;
}

/** A small read-only table with the toolkit's table component. */
export function smallTable(
  headers: string[],
  rows: (string | number)[][],
  opts: { numericFrom?: number; className?: string } = {},
): HTMLElement {
  const table = h('vscode-table', { class: opts.className ?? 'small-table', zebra: true, bordered: true, resizable: true });
  const head = h('vscode-table-header', { slot: 'header' });
  for (const t of headers) head.append(h('vscode-table-header-cell', {}, t));
  const body = h('vscode-table-body', { slot: 'body' });
  for (const r of rows) {
    const row = h('vscode-table-row');
    r.forEach((c, i) =>
      row.append(h('vscode-table-cell', { class: opts.numericFrom !== undefined && i >= opts.numericFrom ? 'num' : undefined }, String(c))),
    );
    body.append(row);
  }
  table.append(head, body);
  return table;
}
