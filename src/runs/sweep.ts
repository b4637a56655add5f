import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTempName } from './atomic';
import { evalLockFile, isLocked } from './lock';
import { RUN_FILES } from './paths';

/**
 * Removes what killed writers left behind: temp files and directories (`.tmp-*`; `.model-*` from
 * older versions). Readers ignore them, but they can be large (a checkpoint's worth each), so
 * they are swept when the run is next opened for writing, by the process that holds the lock
 * covering them. An entry whose writer (the pid in its name) is alive is never touched.
 */

function ownerAlive(name: string): boolean {
  const t = parseTempName(name);
  if (!t || t.pid === process.pid) return false;
  try {
    process.kill(t.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function remove(dir: string, names: string[]): string[] {
  const removed: string[] = [];
  for (const n of names) {
    if (ownerAlive(n)) continue;
    fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The run's own leftovers: at its top level and in checkpoints/. Call it holding the run lock
 * (every writer of those places holds it). Returns the paths removed, relative to the run.
 */
export function sweepRunLeftovers(runDir: string): string[] {
  const top = remove(
    runDir,
    entries(runDir).filter((n) => n.startsWith('.tmp-') || n.startsWith('.model-')),
  );
  const ckDir = path.join(runDir, RUN_FILES.checkpoints);
  const ck = remove(
    ckDir,
    entries(ckDir).filter((n) => n.startsWith('.tmp-')),
  ).map((n) => path.join(RUN_FILES.checkpoints, n));
  return [...top, ...ck];
}

/** The evaluation name a temp entry of evals/ belongs to (`<name>.json` or the image folder `<name>`). */
function evalNameOfTemp(name: string): string | null {
  const t = parseTempName(name);
  if (!t) return null;
  return t.base.endsWith('.json') ? t.base.slice(0, -'.json'.length) : t.base;
}

/**
 * Leftovers in evals/: temp entries of evaluation names nobody is writing now (their lock is
 * free or `own`, the name the caller holds), and, for `own`, the image folders of earlier
 * versions that `current` (the folder the evaluation's JSON now points to) replaced.
 */
export function sweepEvalLeftovers(runDir: string, own: string, current?: string): string[] {
  const evalsDir = path.join(runDir, RUN_FILES.evals);
  const top = remove(
    evalsDir,
    entries(evalsDir).filter((n) => {
      const name = evalNameOfTemp(n);
      return name !== null && (name === own || !isLocked(evalLockFile(runDir, name)));
    }),
  );
  const imgDir = path.join(evalsDir, own);
  const inner = fs.existsSync(imgDir)
    ? remove(
        imgDir,
        entries(imgDir).filter((n) => n !== current),
      ).map((n) => path.join(own, n))
    : [];
  return [...top, ...inner];
}
