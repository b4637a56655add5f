/**
 * Recognising model definitions in the workspace (for the commands' "selected model" and the
 * CodeLens): a tfjs Layers model.json, or a JS/TS module that builds a tfjs LayersModel.
 */
import * as path from 'node:path';

export const MODULE_EXTENSIONS = ['.js', '.cjs', '.mjs', '.ts', '.mts', '.cts'];

export type ModelFileKind = 'model-json' | 'module' | 'onnx';

/** Decides from a file's name and text whether it is a model definition (an .onnx file by its name alone). */
export function modelFileKind(fileName: string, text: string): ModelFileKind | null {
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.json') return /"modelTopology"\s*:/.test(text.slice(0, 200_000)) ? 'model-json' : null;
  if (MODULE_EXTENSIONS.includes(ext)) {
    if (/\.d\.[cm]?ts$/.test(fileName)) return null;
    const usesTf = /from\s+['"]@tensorflow\/tfjs[\w-]*['"]|require\(\s*['"]@tensorflow\/tfjs[\w-]*['"]\s*\)|\bModelModuleContext\b/.test(
      text,
    );
    const exportsDefault = /\bexport\s+default\b|module\.exports\s*=/.test(text);
    return usesTf && exportsDefault ? 'module' : null;
  }
  return null;
}

/** The line a CodeLens goes above: the default export of a module, the topology of a model.json. */
export function definitionLine(kind: Exclude<ModelFileKind, 'onnx'>, text: string): number {
  const re = kind === 'module' ? /\bexport\s+default\b|module\.exports\s*=/ : /"modelTopology"\s*:/;
  const m = re.exec(text);
  if (!m) return 0;
  return text.slice(0, m.index).split('\n').length - 1;
}
