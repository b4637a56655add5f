import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { isInputError } from '../../../src/engine/errors';
import { decodeModel, encodeModel } from '../../../src/engine/onnx/onnxSchema';
import { readOnnx } from '../../../src/engine/onnx/read';
import { tmpDir, useEngineBackend } from '../../helpers';
import { engineModel, fixture } from './helpers';

/**
 * Every file that cannot be imported is refused with one clear sentence that says what to do,
 * as an input error (exit code 2 in the CLI).
 */
before(async () => {
  await useEngineBackend();
});

async function refused(file: string, pattern: RegExp, image: [number, number, number] = [28, 28, 1], classes = 10): Promise<void> {
  await assert.rejects(
    () => engineModel(file, image, classes),
    (e: Error) => {
      assert.ok(isInputError(e), `${e.name}: an input error`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('truncated files and files that are not ONNX', async () => {
  const dir = tmpDir();
  const bytes = fs.readFileSync(fixture('resnet_bn_norm_op13.onnx'));
  for (const cut of [10, 200, Math.floor(bytes.length / 2), bytes.length - 3]) {
    const f = path.join(dir, `cut${cut}.onnx`);
    fs.writeFileSync(f, bytes.subarray(0, cut));
    await refused(f, /not (a readable )?(an )?ONNX model/);
  }
  const text = path.join(dir, 'text.onnx');
  fs.writeFileSync(text, 'this is not a model\n');
  await refused(text, /not (a readable )?(an )?ONNX model/);
  const empty = path.join(dir, 'empty.onnx');
  fs.writeFileSync(empty, '');
  await refused(empty, /not an ONNX model/);
  await refused(path.join(dir, 'missing.onnx'), /nor an existing file/);
});

test('unsupported operators are all listed, with node names and the opset', async () => {
  await refused(
    fixture('unsupported.onnx'),
    /opset 13\) uses operators FIM Inspector does not support: Resize \(upsample\); Floor \(floor_a, floor_b\); com\.microsoft\.FusedGemm \(ms_op\)/,
  );
});

test('quantised models, two inputs, two outputs, dynamic image sizes, probabilities', async () => {
  await refused(fixture('quantised.onnx'), /quantised model .*export the float model/);
  await refused(fixture('two_inputs.onnx'), /has 2 inputs \(input, mask\); FIM Inspector needs one image input/);
  await refused(fixture('two_outputs.onnx'), /has 2 outputs \(output, hidden\)/);
  await refused(fixture('dynamic_hw.onnx'), /dimension 2 dynamic.*dynamic_axes on the batch axis only/);
  await refused(fixture('probabilities.onnx'), /outputs are probabilities.*without its final softmax/);
});

test('a model that does not fit the dataset: input shape, class count', async () => {
  await refused(
    fixture('convnet_op13.onnx'),
    /has shape \[batch, 1, 28, 28\], but the dataset's images are 32×32 with 3 channels/,
    [32, 32, 3],
    10,
  );
  await refused(fixture('convnet_op13.onnx'), /outputs 10 classes but the dataset has 43/, [28, 28, 1], 43);
});

test('external data: read from beside the model only', async () => {
  const dir = tmpDir();
  const m = decodeModel(new Uint8Array(fs.readFileSync(fixture('external.onnx'))));
  const withLocation = (loc: string) => {
    const copy = decodeModel(encodeModel(m));
    for (const t of copy.graph!.initializer!) for (const e of t.external_data ?? []) if (e.key === 'location') e.value = loc;
    return encodeModel(copy);
  };
  // Missing data file.
  fs.writeFileSync(path.join(dir, 'alone.onnx'), fs.readFileSync(fixture('external.onnx')));
  await refused(path.join(dir, 'alone.onnx'), /external data file external\.bin .* not found next to the model/);
  // A location that climbs out of the model's directory, or is absolute.
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  fs.copyFileSync(fixture('external.bin'), path.join(dir, 'external.bin'));
  fs.writeFileSync(path.join(sub, 'up.onnx'), withLocation('../external.bin'));
  await refused(path.join(sub, 'up.onnx'), /lies outside the model's directory/);
  fs.writeFileSync(path.join(sub, 'abs.onnx'), withLocation(path.join(dir, 'external.bin')));
  await refused(path.join(sub, 'abs.onnx'), /absolute path/);
  // A link beside the model that points elsewhere is followed and refused too.
  fs.symlinkSync(path.join(dir, 'external.bin'), path.join(sub, 'link.bin'));
  fs.writeFileSync(path.join(sub, 'link.onnx'), withLocation('link.bin'));
  await refused(path.join(sub, 'link.onnx'), /lies outside the model's directory/);
  // Data shorter than the tensors need.
  fs.writeFileSync(path.join(sub, 'short.bin'), fs.readFileSync(fixture('external.bin')).subarray(0, 100));
  fs.writeFileSync(path.join(sub, 'short.onnx'), withLocation('short.bin'));
  await refused(path.join(sub, 'short.onnx'), /runs past the end of short\.bin/);
});

test('readOnnx keeps the structure and float32 values of a PyTorch export', () => {
  const m = readOnnx(fixture('convnet_op13.onnx'));
  assert.equal(m.opset, 13);
  assert.deepEqual(
    m.graph.nodes.map((n) => n.opType),
    ['Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Flatten', 'Gemm'],
  );
  assert.equal(m.weights.get('fc.weight')!.length, 10 * 64 * 7 * 7);
  assert.deepEqual(m.graph.inputs[0]!.dims, ['batch', 1, 28, 28]);
});
