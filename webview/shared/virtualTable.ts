/**
 * A sortable table that renders only the rows in view (@tanstack/virtual-core), so 10,000 rows
 * scroll and sort smoothly. The toolkit's table renders every row, which is fine for small
 * tables but not for per-sample results.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import { h } from './format.js';
import { sortRows, type SortDir } from './sortRows.js';

export type { SortDir };

export interface Column<T> {
  key: string;
  label: string;
  /** Header tooltip. */
  title?: string;
  /** CSS grid track, e.g. "80px" or "1fr". */
  width: string;
  /** Sort value; columns without one are not sortable. */
  sortValue?: (row: T) => number | string;
  /** Cell content; `position` is the row's 0-based place in the displayed order. */
  render: (row: T, position: number) => string | Node;
  numeric?: boolean;
}

export interface VirtualTableOptions<T> {
  rowHeight: number;
  sort?: { key: string; dir: SortDir };
  onSort?: (key: string, dir: SortDir) => void;
  onSelect?: (row: T, position: number) => void;
  /** Restores the scroll position (pixels). */
  scrollTop?: number;
  onScroll?: (top: number) => void;
  footer?: (shown: number) => string;
  /** Stable identity of a row, for keeping the selection across sorts. */
  rowId: (row: T) => number | string;
}

export class VirtualTable<T> {
  readonly element: HTMLElement;
  private readonly head: HTMLElement;
  private readonly scrollEl: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly foot: HTMLElement;
  private rows: T[] = [];
  private view: T[] = [];
  private sort: { key: string; dir: SortDir } | null;
  private selected: number | string | null = null;
  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private readonly cleanup: () => void;
  private readonly template: string;

  constructor(
    private readonly columns: Column<T>[],
    private readonly opts: VirtualTableOptions<T>,
  ) {
    this.sort = opts.sort ?? null;
    this.template = columns.map((c) => c.width).join(' ');
    this.head = h('div', { class: 'vt-head', role: 'row' });
    this.head.style.gridTemplateColumns = this.template;
    for (const c of columns) {
      const cell = h(
        'div',
        { role: 'columnheader', title: c.title ?? c.label, class: c.numeric ? 'num' : undefined, 'data-key': c.key },
        c.label,
      );
      if (c.sortValue) {
        cell.tabIndex = 0;
        const toggle = () => this.toggleSort(c.key);
        cell.addEventListener('click', toggle);
        cell.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && toggle());
      }
      this.head.append(cell);
    }
    this.spacer = h('div', { class: 'vt-spacer', role: 'rowgroup' });
    this.scrollEl = h('div', { class: 'vt-scroll', tabindex: 0 }, this.spacer);
    this.foot = h('div', { class: 'vt-foot' });
    this.element = h('div', { class: 'vt', role: 'table' }, this.head, this.scrollEl, this.foot);
    this.scrollEl.addEventListener('scroll', () => opts.onScroll?.(this.scrollEl.scrollTop), { passive: true });
    this.virtualizer = new Virtualizer<HTMLElement, HTMLElement>({
      count: 0,
      getScrollElement: () => this.scrollEl,
      estimateSize: () => opts.rowHeight,
      scrollToFn: elementScroll,
      observeElementRect,
      observeElementOffset,
      overscan: 12,
      onChange: () => this.renderRows(),
    });
    this.cleanup = this.virtualizer._didMount();
    this.updateHeader();
  }

  /** Replaces the rows (keeps sort, selection and scroll position). */
  setRows(rows: T[]): void {
    this.rows = rows;
    this.applySort();
    this.virtualizer.setOptions({ ...this.virtualizer.options, count: this.view.length });
    this.virtualizer._willUpdate();
    this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
    if (this.opts.scrollTop) {
      this.scrollEl.scrollTop = this.opts.scrollTop;
      this.opts.scrollTop = 0;
    }
    this.foot.textContent = this.opts.footer ? this.opts.footer(this.view.length) : `${this.view.length} rows`;
    this.renderRows();
  }

  /** Rows in their displayed order. */
  get orderedRows(): readonly T[] {
    return this.view;
  }

  select(id: number | string | null): void {
    this.selected = id;
    this.renderRows();
  }

  private toggleSort(key: string): void {
    const dir: SortDir = this.sort?.key === key && this.sort.dir === 'desc' ? 'asc' : 'desc';
    this.sort = { key, dir };
    this.opts.onSort?.(key, dir);
    this.applySort();
    this.updateHeader();
    this.scrollEl.scrollTop = 0;
    this.renderRows();
  }

  private updateHeader(): void {
    for (const cell of Array.from(this.head.children) as HTMLElement[]) {
      const key = cell.dataset.key;
      if (this.sort && key === this.sort.key) cell.setAttribute('aria-sort', this.sort.dir === 'asc' ? 'ascending' : 'descending');
      else cell.removeAttribute('aria-sort');
    }
  }

  private applySort(): void {
    const col = this.sort ? this.columns.find((c) => c.key === this.sort!.key && c.sortValue) : undefined;
    if (!col) {
      this.view = this.rows.slice();
      return;
    }
    this.view = sortRows(this.rows, col.sortValue!, this.sort!.dir);
  }

  private renderRows(): void {
    const items = this.virtualizer.getVirtualItems();
    this.spacer.style.height = `${this.virtualizer.getTotalSize()}px`;
    const frag = document.createDocumentFragment();
    for (const item of items) {
      const row = this.view[item.index];
      if (row === undefined) continue;
      const id = this.opts.rowId(row);
      const el = h('div', { class: id === this.selected ? 'vt-row selected' : 'vt-row', role: 'row', 'aria-rowindex': item.index + 1 });
      el.style.gridTemplateColumns = this.template;
      el.style.height = `${item.size}px`;
      el.style.transform = `translateY(${item.start}px)`;
      for (const c of this.columns) el.append(h('div', { role: 'cell', class: c.numeric ? 'num' : undefined }, c.render(row, item.index)));
      el.addEventListener('click', () => {
        this.select(id);
        this.opts.onSelect?.(row, item.index);
      });
      frag.append(el);
    }
    this.spacer.replaceChildren(frag);
  }

  dispose(): void {
    this.cleanup();
  }
}
