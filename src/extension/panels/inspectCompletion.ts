/**
 * An inspection panel shows every sample's input and OSSA direction, also for inspections that
 * stored images for a few samples only (a reproduction's): the first time such an inspection is
 * opened, the engine draws the missing ones from the same checkpoint (fim/completeInspection)
 * and adds the dataset's class names; the panel's file watcher then shows them.
 */
import * as path from 'node:path';
import { CompleteInspection, type CompleteInspectionParams } from '../../protocol/engine';
import type { InspectData } from '../../protocol/webview';
import type { Engine } from '../engine';
import { newJobId } from '../engineProcess';
import { describeJobError, type Jobs } from '../jobs';

type State = { state: 'running' | 'failed' | 'done'; message?: string };

export class InspectCompletion {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly engine: Engine,
    private readonly jobs: Jobs,
    private readonly refresh: (runDir: string) => void,
  ) {}

  /** Where the completion of this inspection stands (undefined when nothing is missing). */
  status(runDir: string, evalName: string, data: Omit<InspectData, 'assetsBase'>): InspectData['completion'] {
    const missing = data.eval.samples.filter((s) => !s.image || !s.eigenImage).length;
    if (missing === 0 && data.eval.classNames) return undefined;
    const id = `${path.resolve(runDir)}#${evalName}`;
    let st = this.states.get(id);
    if (!st) {
      st = { state: 'running' };
      this.states.set(id, st);
      void this.start(st, { runDir, evalName }, missing, data.run.name);
    }
    if (missing === 0 || st.state === 'done') return undefined;
    return { state: st.state === 'failed' ? 'failed' : 'running', missing, ...(st.message ? { message: st.message } : {}) };
  }

  private async start(st: State, params: Omit<CompleteInspectionParams, 'jobId'>, missing: number, runName: string): Promise<void> {
    try {
      if (missing > 0) {
        const r = await this.jobs.run('complete', `drawing ${missing} sample images of ${runName}`, CompleteInspection, params);
        if (!r) throw new Error('the images could not be drawn; see the notification');
      } else {
        // Class names only: quick, and not worth a notification.
        await this.engine.client.job(CompleteInspection, { ...params, jobId: newJobId('complete') });
      }
      st.state = 'done';
    } catch (e) {
      st.state = 'failed';
      st.message = describeJobError(e);
      this.engine.output.warn(`completing ${params.evalName} of ${params.runDir}: ${st.message}`);
    }
    this.refresh(params.runDir);
  }

  dispose(): void {
    this.states.clear();
  }
}
