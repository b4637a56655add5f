import { describeBackend, initBackend } from '../../engine/backend/select';
import { backendFlag, parse, type Command } from '../args';
import { printJson } from '../output';

const usage = `fim backend [--backend B] [--json]
  Start the tfjs backend the engine would use and say why each better one was skipped.`;

export const backendCommand: Command = {
  name: 'backend',
  summary: 'show which compute backend is used and why',
  usage,
  async run(argv) {
    const { values: v } = parse(argv, { backend: { type: 'string' }, json: { type: 'boolean' } });
    if (v.help) {
      process.stdout.write(usage + '\n');
      return 0;
    }
    const req = backendFlag(v.backend);
    const report = await initBackend(req);
    if (v.json) printJson(report);
    else process.stdout.write(describeBackend(report) + '\n');
    return 0;
  },
};
