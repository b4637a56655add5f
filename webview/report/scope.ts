/**
 * The report's stylesheet inside the panel's shadow root: its `body` rules apply to the wrapper
 * that holds the report's body there (a shadow root has no body element).
 */
export function scopeReportCss(css: string): string {
  return css.replace(/(^|[}\s,])body(?=[\s,{.:#[])/g, '$1.report-body');
}
