import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a file so that readers see either the old or the new content, never a torn one:
 * write a sibling temp file, fsync it, rename over the target. A process killed mid-write
 * leaves only a stray `.tmp-*` file, which readers ignore.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${process.pid}-${Date.now()}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Publishes a directory atomically: `fill` writes into a temp directory, which is then renamed to
 * `target` (a directory rename is atomic on POSIX). An existing `target` is replaced.
 */
export function writeDirAtomic(target: string, fill: (tmpDir: string) => void): void {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.tmp-${path.basename(target)}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    if (fs.existsSync(target)) {
      const old = `${tmp}-old`;
      fs.renameSync(target, old);
      fs.renameSync(tmp, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, target);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Appends one line; a crash can tear only the last line, which readers skip. */
export function appendLine(file: string, line: string): void {
  fs.appendFileSync(file, line.endsWith('\n') ? line : line + '\n');
}
