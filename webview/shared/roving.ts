/**
 * Keyboard access for lists of items (table rows, adversarial cards, chart legends): one item in
 * the tab order at a time (roving tabindex), arrow keys, Home/End and Page keys move it, Enter or
 * Space activates it (WAI-ARIA Authoring Practices, "Managing focus within components").
 */

/** Where a key moves the active index in a list of `count` items laid out `columns` per row. */
export function nextIndex(key: string, current: number, count: number, opts: { columns?: number; page?: number } = {}): number | null {
  if (count <= 0) return null;
  const cols = Math.max(1, opts.columns ?? 1);
  const page = Math.max(1, opts.page ?? 10);
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  const at = clamp(current);
  switch (key) {
    case 'ArrowDown':
      return clamp(at + cols);
    case 'ArrowUp':
      return clamp(at - cols);
    case 'ArrowRight':
      return cols > 1 ? clamp(at + 1) : null;
    case 'ArrowLeft':
      return cols > 1 ? clamp(at - 1) : null;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    case 'PageDown':
      return clamp(at + page * cols);
    case 'PageUp':
      return clamp(at - page * cols);
    default:
      return null;
  }
}

/** Enter and Space activate (select, toggle) the focused item. */
export function isActivation(e: { key: string }): boolean {
  return e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar';
}

/** Items in a grid flow: how many sit in the first row (for ArrowUp/Down in a card grid). */
export function columnsOf(items: readonly HTMLElement[]): number {
  const top = items[0]?.offsetTop;
  if (top === undefined) return 1;
  let n = 0;
  for (const el of items) {
    if (el.offsetTop !== top) break;
    n++;
  }
  return Math.max(1, n);
}

/**
 * Roving tabindex over the `selector` children of `container`, which may be re-rendered: call it
 * again after each render. `active` is the item in the tab order; `onActivate` runs on Enter/Space
 * (and click), `onMove` when the arrow keys move to another item.
 */
export function roving(
  container: HTMLElement,
  selector: string,
  active: number,
  handlers: { onActivate(index: number): void; onMove?(index: number): void; grid?: boolean },
): void {
  const items = Array.from(container.querySelectorAll<HTMLElement>(selector));
  const current = Math.min(Math.max(0, active), items.length - 1);
  items.forEach((el, i) => {
    el.tabIndex = i === current ? 0 : -1;
    el.onkeydown = (e) => {
      if (isActivation(e)) {
        e.preventDefault();
        handlers.onActivate(i);
        return;
      }
      const to = nextIndex(e.key, i, items.length, { columns: handlers.grid ? columnsOf(items) : 1 });
      if (to === null || to === i) return;
      e.preventDefault();
      items[i]!.tabIndex = -1;
      items[to]!.tabIndex = 0;
      items[to]!.focus();
      handlers.onMove?.(to);
    };
    el.onclick = () => handlers.onActivate(i);
  });
}
