/** Vega configuration from VS Code's theme colours, and a hook for theme changes. */
import type { Config } from 'vega-lite';

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Categorical colours: the theme's chart colours (baseline first, defended second). */
export function palette(): string[] {
  return [
    cssVar('--vscode-charts-orange', '#d18616'),
    cssVar('--vscode-charts-blue', '#3794ff'),
    cssVar('--vscode-charts-green', '#89d185'),
    cssVar('--vscode-charts-purple', '#b180d7'),
    cssVar('--vscode-charts-red', '#f14c4c'),
    cssVar('--vscode-charts-yellow', '#cca700'),
  ];
}

export function vegaConfig(): Config {
  const fg = cssVar('--vscode-foreground', '#cccccc');
  const muted = cssVar('--vscode-descriptionForeground', '#999999');
  const grid = cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.25)');
  const font = cssVar('--vscode-font-family', 'sans-serif');
  return {
    background: 'transparent',
    font,
    view: { stroke: 'transparent' },
    axis: {
      labelColor: muted,
      titleColor: fg,
      domainColor: muted,
      tickColor: muted,
      gridColor: grid,
      gridOpacity: 0.6,
      labelFont: font,
      titleFont: font,
      titleFontWeight: 'normal',
    },
    legend: {
      labelColor: fg,
      titleColor: fg,
      labelFont: font,
      titleFont: font,
      orient: 'bottom',
      titleFontWeight: 'normal',
      labelLimit: 0,
    },
    header: { labelColor: fg, titleColor: fg, labelFont: font, titleFont: font, labelFontSize: 12 },
    title: { color: fg, font },
    range: { category: palette() },
    mark: { color: palette()[1] },
    bar: { color: palette()[1] },
    line: { strokeWidth: 1.8 },
  };
}

/** Calls `f` when the VS Code theme changes (the body's class list switches). */
export function onThemeChange(f: () => void): void {
  let last = document.body.className;
  new MutationObserver(() => {
    if (document.body.className !== last) {
      last = document.body.className;
      f();
    }
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
