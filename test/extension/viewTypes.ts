/** The panels' view types, as declared for the manifest test (src/extension/panels/panelManager.ts imports vscode). */
import { PANEL_KINDS } from '../../src/protocol/webview';

export const VIEW_TYPES_LIST = PANEL_KINDS.map((k) => `fim.${k}`);
