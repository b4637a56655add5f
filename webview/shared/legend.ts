/**
 * A chart legend as HTML: one toggle button per series, reachable by Tab and the arrow keys
 * (roving tabindex), Enter or Space hides or shows the series. Vega draws its legends into the
 * SVG, where a keyboard cannot reach them, so the charts with several series turn Vega's legend
 * off and use this one, with the same colours.
 */
import { h } from './format.js';
import { roving } from './roving.js';

export interface LegendSeries {
  name: string;
  color: string;
  /** Dashed in the chart (e.g. a baseline). */
  dashed?: boolean;
}

export class SeriesLegend {
  readonly element: HTMLElement;
  readonly hidden = new Set<string>();
  private active = 0;

  constructor(
    title: string,
    private series: LegendSeries[],
    private readonly onChange: (hidden: ReadonlySet<string>) => void,
  ) {
    this.element = h('div', { class: 'legend', role: 'toolbar', 'aria-label': `${title}: series (Enter or Space shows or hides one)` });
    this.render();
  }

  setSeries(series: LegendSeries[]): void {
    this.series = series;
    for (const n of [...this.hidden]) if (!series.some((s) => s.name === n)) this.hidden.delete(n);
    this.render();
  }

  toggle(name: string): void {
    if (this.hidden.has(name)) this.hidden.delete(name);
    else if (this.hidden.size < this.series.length - 1) this.hidden.add(name); // keep one series shown
    this.render();
    this.onChange(this.hidden);
  }

  private render(): void {
    const focused = this.element.contains(document.activeElement);
    this.element.replaceChildren(
      ...this.series.map((s) => {
        const shown = !this.hidden.has(s.name);
        const swatch = h('span', { class: s.dashed ? 'swatch dashed' : 'swatch', 'aria-hidden': 'true' });
        swatch.style.setProperty('--swatch', s.color);
        return h(
          'button',
          {
            type: 'button',
            class: shown ? 'legend-item' : 'legend-item off',
            'aria-pressed': shown ? 'true' : 'false',
            title: `${shown ? 'Hide' : 'Show'} ${s.name}`,
          },
          swatch,
          s.name,
        );
      }),
    );
    roving(this.element, 'button', this.active, {
      onActivate: (i) => {
        this.active = i;
        this.toggle(this.series[i]!.name);
      },
      onMove: (i) => (this.active = i),
    });
    if (focused) (this.element.querySelectorAll('button')[this.active] as HTMLElement | undefined)?.focus();
  }
}
