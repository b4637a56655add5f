import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { InspectEval } from '../../runs/evals';
import { writeJsonAtomic } from '../../runs/atomic';
import { evalFile, RUN_FILES } from '../../runs/paths';
import { readJsonFile } from '../../runs/reader';
import { Cancelled } from '../attacks/attack';
import { InputError } from '../errors';
import { sampleFimStats } from '../fim/sampleStats';
import { imagePng, signedPng } from './images';
import { INSPECT_DEFAULTS } from './inspect';
import { samplesOf, splitOf, type EvalRun } from './runModel';
import { assertEvalName, writeEval } from './store';

/**
 * Completes a stored inspection for display: draws the input and OSSA-direction images of every
 * sample that has none (a reproduction inspects 300–1,000 samples but used to draw 4), and adds
 * the dataset's class names. The eigenvectors are recomputed from the same checkpoint (its
 * SHA-256 must match the provenance) and each sample's λmax(G_x) is checked against the stored
 * value, so an image never shows a direction of another model. The statistics are not changed.
 */
export interface CompleteInspectionOutcome {
  file: string;
  rendered: number;
  classNames: boolean;
}

/** Relative λmax(G_x) difference above which the recomputed eigenpair is not the stored one. */
const LAMBDA_TOLERANCE = 1e-3;

export function readInspection(runDir: string, name: string): InspectEval {
  assertEvalName(name);
  const problems: string[] = [];
  const file = evalFile(runDir, name);
  const ev = readJsonFile<InspectEval>(file, problems);
  if (!ev) throw new InputError(problems[0] ? `${file}: ${problems[0]}` : `${file} does not exist`);
  if (ev.kind !== 'inspect' || !Array.isArray(ev.samples)) throw new InputError(`${file} is not a FIM inspection`);
  return ev;
}

/** Samples that lack an input or eigen-direction image. */
export function missingImages(ev: InspectEval): number[] {
  return ev.samples.flatMap((s, i) => (s.image && s.eigenImage ? [] : [i]));
}

/** Adds the class names only (no model needed); the images stay as they are. */
export function addClassNames(runDir: string, name: string, classNames: string[]): CompleteInspectionOutcome {
  const ev = readInspection(runDir, name);
  const file = evalFile(runDir, name);
  if (ev.classNames || classNames.length === 0) return { file, rendered: 0, classNames: false };
  writeJsonAtomic(file, { ...ev, classNames });
  return { file, rendered: 0, classNames: true };
}

export function drawMissingImages(
  run: EvalRun,
  name: string,
  opts: { onProgress?: (message: string, fraction: number) => void; signal?: AbortSignal } = {},
): CompleteInspectionOutcome {
  const ev = readInspection(run.runDir, name);
  const file = evalFile(run.runDir, name);
  const d = splitOf(run, ev.provenance.split);
  const missing = missingImages(ev);
  const needNames = !ev.classNames && d.classNames.length === d.numClasses;
  if (missing.length === 0) return addClassNames(run.runDir, name, needNames ? d.classNames : []);
  if (run.checkpointSha256 !== ev.provenance.checkpointSha256)
    throw new InputError(
      `${name} was computed on checkpoint ${ev.provenance.checkpoint}, but the run's newest checkpoint is ${run.checkpoint} (other weights); inspect the run again to get its images`,
    );
  const images = new Map<string, Uint8Array>();
  // writeEval replaces the image folder as a whole: carry the images already there over.
  const evalsDir = path.join(run.runDir, RUN_FILES.evals);
  // Stored paths name writeEval's version folder (`name/<version>/sample-3.png`); they are carried
  // over under the unversioned key (`name/sample-3.png`), which writeEval maps to its new version.
  const unversioned = (rel: string) => {
    const parts = rel.split('/');
    return parts.length > 2 && parts[0] === name ? [name, ...parts.slice(2)].join('/') : rel;
  };
  for (const s of ev.samples)
    for (const k of ['image', 'eigenImage'] as const) {
      const rel = s[k];
      if (!rel || !fs.existsSync(path.join(evalsDir, rel))) continue;
      const key = unversioned(rel);
      images.set(key, fs.readFileSync(path.join(evalsDir, rel)));
      s[k] = key;
    }
  const size = d.imageShape[0] * d.imageShape[1] * d.imageShape[2];
  const temperature = ev.temperatureScaling?.temperature;
  for (let s0 = 0; s0 < missing.length; s0 += INSPECT_DEFAULTS.batchSize) {
    if (opts.signal?.aborted) throw new Cancelled();
    const rows = missing.slice(s0, s0 + INSPECT_DEFAULTS.batchSize);
    const idx = rows.map((r) => ev.samples[r]!.index);
    const { x, labels } = samplesOf(d, idx);
    const xt = tf.tensor4d(x, [idx.length, ...d.imageShape]);
    let batch;
    try {
      batch = sampleFimStats(run.model, xt, labels, idx, { tau: ev.tau, ...(temperature ? { temperature } : {}) });
    } finally {
      xt.dispose();
    }
    rows.forEach((r, i) => {
      const s = ev.samples[r]!;
      const got = batch.stats[i]!.lambdaMaxGx;
      if (Math.abs(got - s.lambdaMaxGx) > LAMBDA_TOLERANCE * Math.max(Math.abs(s.lambdaMaxGx), 1e-12))
        throw new InputError(
          `${name}: sample ${s.index} gives λmax(G_x) = ${got} now but ${s.lambdaMaxGx} when it was inspected; the data or the model changed, inspect the run again`,
        );
      s.image = `${name}/sample-${s.index}.png`;
      s.eigenImage = `${name}/sample-${s.index}-eigenvector.png`;
      images.set(s.image, imagePng(x.subarray(i * size, (i + 1) * size), d.imageShape));
      images.set(s.eigenImage, signedPng(batch.eigenvectors.subarray(i * size, (i + 1) * size), d.imageShape));
    });
    opts.onProgress?.(
      `drawing images: ${Math.min(s0 + rows.length, missing.length)}/${missing.length} samples`,
      (s0 + rows.length) / missing.length,
    );
  }
  if (needNames) ev.classNames = d.classNames;
  writeEval(run.runDir, name, ev, images);
  return { file, rendered: missing.length, classNames: needNames };
}
