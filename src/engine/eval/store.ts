import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeDirAtomic, writeJsonAtomic } from '../../runs/atomic';
import type { AnyEval } from '../../runs/evals';
import { evalFile, RUN_FILES } from '../../runs/paths';
import { evalNameProblem } from '../../protocol/names';
import { InputError } from '../errors';

/**
 * Writes `evals/<name>.json` and its images under `evals/<name>/` (paths in the JSON are relative
 * to evals/). The image directory is published first and the JSON last, each atomically, so a
 * reader never sees a result whose images are missing.
 */
export function writeEval(runDir: string, name: string, value: AnyEval, images: Map<string, Uint8Array> = new Map()): string {
  assertEvalName(name);
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

/** Refuses a name that is not a single safe path component (see protocol/names.ts); call it before any work. */
export function assertEvalName(name: string | undefined): void {
  if (name === undefined) return;
  const problem = evalNameProblem(name);
  if (problem) throw new InputError(problem);
}
