import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic, writeJsonAtomic } from '../../runs/atomic';
import type { AnyEval } from '../../runs/evals';
import { evalFile, RUN_FILES } from '../../runs/paths';

/**
 * Writes `evals/<name>.json` and its images under `evals/<name>/` (paths in the JSON are relative
 * to evals/). The image directory is published first and the JSON last, each atomically, so a
 * reader never sees a result whose images are missing.
 */
export function writeEval(runDir: string, name: string, value: AnyEval, images: Map<string, Uint8Array> = new Map()): string {
  if (!/^[A-Za-z0-9_.=-]+$/.test(name)) throw new RangeError(`evaluation name "${name}" may only contain letters, digits and _ . = -`);
  const evalsDir = path.join(runDir, RUN_FILES.evals);
  const imgDir = path.join(evalsDir, name);
  if (images.size > 0) {
    writeDirAtomic(imgDir, (tmp) => {
      for (const [rel, data] of images) {
        const file = path.join(tmp, path.relative(name, rel));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, data);
      }
    });
  } else if (fs.existsSync(imgDir)) {
    fs.rmSync(imgDir, { recursive: true, force: true });
  }
  const file = evalFile(runDir, name);
  writeJsonAtomic(file, value);
  return file;
}

/** A file-name-safe evaluation name from parts. */
export function evalName(...parts: string[]): string {
  return parts
    .join('-')
    .replace(/[^A-Za-z0-9_.=-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 120);
}
