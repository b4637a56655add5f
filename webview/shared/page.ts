/** Page scaffolding shared by the panels. */
import type { RunRef } from '../../src/protocol/webview.js';
import { applyStyles } from './styles.js';
import { h } from './format.js';
import './elements.js';

export function initPage(): HTMLElement {
  applyStyles();
  return document.getElementById('app')!;
}

export function errorBanner(message: string): HTMLElement {
  return h('div', { class: 'error-banner', role: 'alert' }, message);
}

/** "name · μ=… (defended) · state" line for a run. */
export function runLine(run: RunRef): string {
  const role = run.mu ? `defended, μ = ${run.mu}` : 'baseline, μ = 0';
  return `${role} · ${run.model ? run.model.split(/[\\/]/).pop() : '?'} on ${run.dataset ?? '?'} · ${run.state}`;
}

export function stat(label: string, value: string, title?: string): HTMLElement {
  return h('div', { class: 'stat', title }, h('span', { class: 'v' }, value), h('span', { class: 'k' }, label));
}
