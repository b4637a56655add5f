/**
 * A sortable table that renders only the rows in view (@tanstack/virtual-core), so 10,000 rows
 * scroll and sort smoothly. The toolkit's table renders every row, which is fine for small
 * tables but not for per-sample results.
 *
 * Keyboard: an ARIA grid with one row in the tab order (roving tabindex). Up/Down, Page Up/Down,
 * Home/End move it, scrolling it into view (it is rendered on demand); Enter or Space selects it.
 * Sortable headers take Enter/Space too.
 */
import { elementScroll, observeElementOffset, observeElementRect, Virtualizer } from '@tanstack/virtual-core';
import { h } from './format.js';
import { isActivation, nextIndex } from './roving.js';
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
  /** Accessible name of the table. */
  label?: string;
  /** Accessible name of a row (read when it gets focus). */
  rowLabel?: (row: T) => string;
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
  /** Position (in the displayed order) of the row in the tab order. */
  private active = 0;
  /** The active row should take focus once it is rendered (after a scroll the virtualizer reports later). */
  private pendingFocus = false;
  private readonly virtualizer: Virtualizer<HTMLElement, HTMLElement>;
  private readonly cleanup: () => void;
  private readonly template: string;

  constructor(
    private readonly columns: Column<T>[],
    private readonly opts: VirtualTableOptions<T>,
  ) {
    this.sort = opts.sort ?? null;
    this.template = columns.map((c) => c.width).join(' ');
    this.head = h('div', { class: 'vt-head', role: 'row', 'aria-rowindex': 1 });
    this.head.style.gridTemplateColumns = this.template;
    for (const c of columns) {
      const cell = h(
        'div',
        { role: 'columnheader', title: c.title ?? c.label, class: c.numeric ? 'num' : undefined, 'data-key': c.key },
        c.label,
      );
      if (c.sortValue) {
        cell.tabIndex = 0;
        cell.classList.add('sortable');
        const toggle = () => this.toggleSort(c.key);
        cell.addEventListener('click', toggle);
        cell.addEventListener('keydown', (e) => {
          if (!isActivation(e)) return;
          e.preventDefault();
          toggle();
        });
      }
      this.head.append(cell);
    }
    this.spacer = h('div', { class: 'vt-spacer', role: 'rowgroup' });
    this.scrollEl = h('div', { class: 'vt-scroll', tabindex: 0, 'aria-label': opts.label ?? 'rows' }, this.spacer);
    this.foot = h('div', { class: 'vt-foot', 'aria-live': 'polite' });
    this.element = h(
      'div',
      { class: 'vt', role: 'grid', 'aria-label': opts.label, 'aria-rowcount': 1 },
      this.head,
      this.scrollEl,
      this.foot,
    );
    this.spacer.addEventListener('keydown', (e) => this.onKey(e));
    // Tab reaches the grid even when its active row is scrolled out (and so not rendered).
    this.scrollEl.addEventListener('focus', () => this.focusActive());
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
    this.element.setAttribute('aria-rowcount', String(this.view.length + 1));
    this.active = Math.min(this.active, Math.max(0, this.view.length - 1));
    this.renderRows();
  }

  /** Rows in their displayed order. */
  get orderedRows(): readonly T[] {
    return this.view;
  }

  select(id: number | string | null): void {
    this.selected = id;
    const at = id === null ? -1 : this.view.findIndex((r) => this.opts.rowId(r) === id);
    if (at >= 0) this.active = at;
    this.renderRows();
  }

  private onKey(e: KeyboardEvent): void {
    const rowEl = (e.target as HTMLElement).closest<HTMLElement>('.vt-row');
    if (!rowEl) return;
    const at = Number(rowEl.dataset.position);
    if (isActivation(e)) {
      e.preventDefault();
      this.activate(at);
      return;
    }
    const page = Math.max(1, Math.floor(this.scrollEl.clientHeight / this.opts.rowHeight) - 1);
    const to = nextIndex(e.key, at, this.view.length, { page });
    if (to === null) return;
    e.preventDefault();
    this.active = to;
    this.virtualizer.scrollToIndex(to, { align: 'auto' });
    this.renderRows();
    this.focusActive();
  }

  private activate(position: number): void {
    const row = this.view[position];
    if (row === undefined) return;
    this.active = position;
    this.select(this.opts.rowId(row));
    this.opts.onSelect?.(row, position);
    this.focusActive();
  }

  /** Focuses the active row, scrolling it into view (and so into the DOM) first. */
  private focusActive(): void {
    if (this.view.length === 0) return;
    const find = () => this.spacer.querySelector<HTMLElement>(`.vt-row[data-position="${this.active}"]`);
    let el = find();
    if (!el) {
      this.virtualizer.scrollToIndex(this.active, { align: 'auto' });
      this.renderRows();
      el = find();
    }
    if (el) el.focus({ preventScroll: true });
    else this.pendingFocus = true;
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
    const hadFocus = this.spacer.contains(document.activeElement);
    const frag = document.createDocumentFragment();
    let activeShown = false;
    for (const item of items) {
      const row = this.view[item.index];
      if (row === undefined) continue;
      const id = this.opts.rowId(row);
      const isActive = item.index === this.active;
      activeShown ||= isActive;
      const el = h('div', {
        class: `vt-row${id === this.selected ? ' selected' : ''}`,
        role: 'row',
        'aria-rowindex': item.index + 2,
        'aria-selected': id === this.selected ? 'true' : 'false',
        'aria-label': this.opts.rowLabel?.(row),
        tabindex: isActive ? 0 : -1,
        'data-position': item.index,
      });
      el.style.gridTemplateColumns = this.template;
      el.style.height = `${item.size}px`;
      el.style.transform = `translateY(${item.start}px)`;
      for (const c of this.columns)
        el.append(h('div', { role: 'gridcell', class: c.numeric ? 'num' : undefined }, c.render(row, item.index)));
      el.addEventListener('click', () => this.activate(item.index));
      frag.append(el);
    }
    this.spacer.replaceChildren(frag);
    this.scrollEl.tabIndex = activeShown ? -1 : 0;
    if ((hadFocus || this.pendingFocus) && activeShown) {
      this.pendingFocus = false;
      this.spacer.querySelector<HTMLElement>(`.vt-row[data-position="${this.active}"]`)?.focus({ preventScroll: true });
    }
  }

  dispose(): void {
    this.cleanup();
  }
}
