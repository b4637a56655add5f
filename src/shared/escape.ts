/**
 * The one HTML escape of the codebase: for text and attribute values inserted into markup (the
 * reproduction report, the panels' HTML shell, webview tables). Escapes all five characters that
 * can end a text node or a quoted attribute, so the same function is safe in both places.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
