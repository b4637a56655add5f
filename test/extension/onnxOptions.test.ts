import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelOptionsFromFlags } from '../../src/cli/modelFlags';
import { BATCHNORM_CHOICES, LAYOUT_CHOICES, modelOptionsOf } from '../../src/extension/onnxOptions';

test("Import Model's ONNX choices give the run the same modelOptions as the CLI's flags", () => {
  const normalize = { mean: [0.1307], std: [0.3081] };
  for (const { choice } of LAYOUT_CHOICES)
    for (const { freeze } of BATCHNORM_CHOICES)
      for (const norm of [undefined, normalize]) {
        const flags = {
          ...(choice === 'detect' ? {} : { 'input-layout': choice }),
          ...(norm ? { normalize: 'mean=0.1307,std=0.3081' } : {}),
          ...(freeze ? { 'freeze-bn': true } : {}),
        };
        assert.deepEqual(
          modelOptionsOf({ layout: choice, freezeBatchNorm: freeze, normalize: norm }),
          modelOptionsFromFlags(flags),
          JSON.stringify(flags),
        );
      }
  assert.equal(modelOptionsOf({ layout: 'detect', freezeBatchNorm: false }), undefined);
  assert.deepEqual(modelOptionsOf({ layout: 'nhwc', freezeBatchNorm: true }), { inputLayout: 'nhwc', freezeBatchNorm: true });
});
