/** Styles shared by every panel (theme colours through VS Code's CSS variables). */
const css = `
:root { color-scheme: light dark; }
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 24px; margin: 0; }
h1 { font-size: 1.35em; font-weight: 600; margin: 14px 0 4px; }
h2 { font-size: 1.1em; font-weight: 600; margin: 18px 0 6px; }
p, .meta { margin: 4px 0; }
.meta { color: var(--vscode-descriptionForeground); }
code { font-family: var(--vscode-editor-font-family); font-size: 0.95em; }
.loading { color: var(--vscode-descriptionForeground); }
.error-banner { border: 1px solid var(--vscode-inputValidation-errorBorder, #be1100); background: var(--vscode-inputValidation-errorBackground, rgba(190,17,0,0.15)); padding: 8px 12px; margin: 12px 0; white-space: pre-wrap; }
.hint { border-left: 3px solid var(--vscode-textLink-foreground); padding: 4px 10px; margin: 10px 0; color: var(--vscode-descriptionForeground); }
.toolbar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px 18px; }
.figure { min-width: 0; border: 1px solid var(--vscode-panel-border, transparent); border-radius: 4px; padding: 6px 8px; }
.figure-head { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
.figure-title { font-weight: 600; }
.figure-actions { display: flex; gap: 4px; }
.chart { width: 100%; min-height: 60px; }
.chart svg { max-width: 100%; height: auto; }
.stats { display: flex; gap: 18px; flex-wrap: wrap; margin: 8px 0; }
.stat { display: flex; flex-direction: column; }
.stat .v { font-size: 1.25em; font-weight: 600; }
.stat .k { color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
vscode-table.small-table { margin: 6px 0 12px; }
img.px { image-rendering: pixelated; background: #000; }
/* virtual table */
.vt { border: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); border-radius: 3px; }
.vt-head, .vt-row { display: grid; align-items: center; column-gap: 8px; padding: 0 8px; }
.vt-head { font-weight: 600; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); background: var(--vscode-keybindingTable-headerBackground, rgba(128,128,128,0.08)); min-height: 28px; }
.vt-head > div { cursor: pointer; user-select: none; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; padding: 4px 0; }
.vt-head > div[aria-sort="ascending"]::after { content: " ▲"; font-size: 0.8em; }
.vt-head > div[aria-sort="descending"]::after { content: " ▼"; font-size: 0.8em; }
.vt-scroll { overflow: auto; position: relative; height: min(60vh, 640px); contain: strict; }
.vt-spacer { position: relative; width: 100%; }
.vt-row { position: absolute; left: 0; right: 0; top: 0; cursor: default; will-change: transform; }
.vt-row:nth-child(even) { background: var(--vscode-keybindingTable-rowsBackground, rgba(128,128,128,0.04)); }
.vt-row:hover { background: var(--vscode-list-hoverBackground); }
.vt-row.selected { background: var(--vscode-list-activeSelectionBackground); color: var(--vscode-list-activeSelectionForeground); }
.vt-row > div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.vt-row img { height: 30px; width: 30px; display: block; }
/* keyboard focus: always visible (the theme's focus colour) */
.vt-row:focus-visible, .vt-head > div:focus-visible, .card:focus-visible, .legend-item:focus-visible, .vt-scroll:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 2px solid var(--vscode-focusBorder); outline-offset: -2px; }
.vt-row:focus-visible { z-index: 1; }
/* HTML chart legends (webview/shared/legend.ts) */
.legend { display: flex; flex-wrap: wrap; gap: 4px 10px; margin: 4px 0 2px; }
.legend-item { display: inline-flex; align-items: center; gap: 6px; background: transparent; color: var(--vscode-foreground); border: 1px solid transparent; border-radius: 3px; padding: 2px 6px; font: inherit; cursor: pointer; }
.legend-item:hover { background: var(--vscode-list-hoverBackground); }
.legend-item.off { opacity: 0.45; text-decoration: line-through; }
.legend-item .swatch { width: 18px; height: 0; border-top: 3px solid var(--swatch); display: inline-block; }
.legend-item .swatch.dashed { border-top-style: dashed; }
.filter { display: flex; gap: 8px; align-items: center; margin: 6px 0; }
.filter input { min-width: 320px; background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, transparent); padding: 4px 6px; font: inherit; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.vt-foot { padding: 4px 8px; color: var(--vscode-descriptionForeground); font-size: 0.9em; border-top: 1px solid var(--vscode-panel-border, var(--vscode-editorWidget-border)); }
`;

export function applyStyles(): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

/** Adds a panel's own styles. */
export function addStyles(text: string): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(text);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
