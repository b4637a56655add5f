/**
 * Every command id of the extension, declared once. package.json's `contributes.commands` lists
 * the same ids (test/extension/commandIds.test.ts checks both ways); code refers to them only
 * through this object, so a renamed command is a type error rather than a dead menu entry.
 */
export const COMMAND = {
  trainDefended: 'fim.trainDefended',
  trainBaseline: 'fim.trainBaseline',
  inspectRun: 'fim.inspectRun',
  attackSweep: 'fim.attackSweep',
  runAutoAttack: 'fim.runAutoAttack',
  openAutoAttack: 'fim.openAutoAttack',
  compareRuns: 'fim.compareRuns',
  openTrainingLog: 'fim.openTrainingLog',
  stopJob: 'fim.stopJob',
  resumeRun: 'fim.resumeRun',
  openDashboard: 'fim.openDashboard',
  openInspection: 'fim.openInspection',
  openAdversarial: 'fim.openAdversarial',
  openEvaluation: 'fim.openEvaluation',
  refreshRuns: 'fim.refreshRuns',
  revealRun: 'fim.revealRun',
  showEngineLog: 'fim.showEngineLog',
  restartEngine: 'fim.restartEngine',
  evalDistance: 'fim.evalDistance',
  evalTransfer: 'fim.evalTransfer',
  evalWorstCase: 'fim.evalWorstCase',
  compareTraining: 'fim.compareTraining',
  reproduce: 'fim.reproduce',
  resumeReproduction: 'fim.resumeReproduction',
  stopReproduction: 'fim.stopReproduction',
  openReport: 'fim.openReport',
  revealReproduction: 'fim.revealReproduction',
  checkSetup: 'fim.checkSetup',
  importModel: 'fim.importModel',
  exportOnnx: 'fim.exportOnnx',
  compareDefences: 'fim.compareDefences',
} as const;

export type CommandId = (typeof COMMAND)[keyof typeof COMMAND];
