import { backendFlag, defineCommand } from '../args';
import { printJson } from '../output';
import { describeBackend, initBackend } from '../../engine';

const usage = `fim backend [--backend B] [--json]
  Start the tfjs backend the engine would use and say why each better one was skipped.`;

export const backendCommand = defineCommand({
  name: 'backend',
  summary: 'show which compute backend is used and why',
  usage,
  flags: { backend: { type: 'string' }, json: { type: 'boolean' } },
  async run(v) {
    const req = backendFlag(v.backend);
    const report = await initBackend(req);
    if (v.json) printJson(report);
    else process.stdout.write(describeBackend(report) + '\n');
    return 0;
  },
});
