// Regenerates the built-in VGG-11 and ResNet-14 definitions (src/engine/models/definitions/
// vgg11.json, resnet14.json) from tfjs-layers code, the way convnet.json was made: build the
// model with the Layers API and save its topology (`toJSON`), no weights.
//   node scripts/make-model-definitions.mjs          write both files
//   node scripts/make-model-definitions.mjs --check  exit 1 if the committed files differ
// The engine seeds every initializer at build time (models/topology.ts), so seeds stay null here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outDir = path.join(root, 'src/engine/models/definitions');

// PyTorch's BatchNorm2d defaults (momentum 0.1 there = 0.9 here, eps 1e-5), as convnet.json uses.
const bn = (name) => tfl.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-5 });
const he = () => tfl.initializers.heNormal({});

/**
 * Simplified VGG-11 for 32×32×3 inputs: VGG's configuration "A" (8 conv layers 64-M-128-M-256-256-M-
 * 512-512-M-512-512-M, 3×3, each + BN + ReLU) and a classifier shrunk from 4096-wide to 512-wide
 * (512 → 512 → 512 → 10) to fit CIFAR-10's 1×1×512 feature map: 11 weight layers. No dropout, so a
 * step depends only on (weights, batch) and --resume replays exactly.
 */
function vgg11(numClasses = 10) {
  const cfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'];
  const layers = [];
  let c = 0;
  let p = 0;
  for (const v of cfg) {
    if (v === 'M') {
      layers.push(tfl.layers.maxPooling2d({ name: `pool${++p}`, poolSize: 2, strides: 2 }));
      continue;
    }
    c++;
    layers.push(
      tfl.layers.conv2d({
        name: `conv${c}`,
        filters: v,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: he(),
        ...(c === 1 ? { inputShape: [32, 32, 3] } : {}),
      }),
      bn(`bn${c}`),
      tfl.layers.reLU({ name: `relu${c}` }),
    );
  }
  layers.push(
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ name: 'fc1', units: 512, activation: 'relu', kernelInitializer: he() }),
    tfl.layers.dense({ name: 'fc2', units: 512, activation: 'relu', kernelInitializer: he() }),
    tfl.layers.dense({ name: 'logits', units: numClasses }),
  );
  return tfl.sequential({ name: 'vgg11', layers });
}

/**
 * ResNet-14 for 32×32×3 inputs, He et al.'s CIFAR family (6n+2 layers, n = 2): conv 3×3/16 + BN +
 * ReLU, three stages of two basic blocks (16, 32, 64 filters; stages 2 and 3 start with stride 2),
 * global average pooling, dense to the logits. 13 conv + 1 dense = 14 weight layers on the main
 * path; where a block changes shape its shortcut is a 1×1 stride-2 conv + BN ("option B": option A's
 * zero-padding shortcut needs a Lambda layer, which a model.json cannot hold).
 */
function resnet14(numClasses = 43) {
  const conv = (x, name, filters, kernelSize, strides) =>
    tfl.layers.conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: he() }).apply(x);
  const input = tfl.input({ shape: [32, 32, 3], name: 'input' });
  let x = conv(input, 'conv1', 16, 3, 1);
  x = bn('bn1').apply(x);
  x = tfl.layers.reLU({ name: 'relu1' }).apply(x);
  let inFilters = 16;
  [16, 32, 64].forEach((filters, s) => {
    for (let b = 0; b < 2; b++) {
      const id = `s${s + 1}b${b + 1}`;
      const strides = s > 0 && b === 0 ? 2 : 1;
      let y = conv(x, `${id}_conv1`, filters, 3, strides);
      y = bn(`${id}_bn1`).apply(y);
      y = tfl.layers.reLU({ name: `${id}_relu1` }).apply(y);
      y = conv(y, `${id}_conv2`, filters, 3, 1);
      y = bn(`${id}_bn2`).apply(y);
      let shortcut = x;
      if (strides !== 1 || inFilters !== filters) {
        shortcut = conv(x, `${id}_proj`, filters, 1, strides);
        shortcut = bn(`${id}_proj_bn`).apply(shortcut);
      }
      x = tfl.layers.add({ name: `${id}_add` }).apply([y, shortcut]);
      x = tfl.layers.reLU({ name: `${id}_relu2` }).apply(x);
      inFilters = filters;
    }
  });
  x = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(x);
  const logits = tfl.layers.dense({ name: 'logits', units: numClasses }).apply(x);
  return tfl.model({ name: 'resnet14', inputs: input, outputs: logits });
}

function definitionJson(model) {
  return (
    JSON.stringify(
      {
        format: 'layers-model',
        generatedBy: 'FIM Inspector (built-in definition, scripts/make-model-definitions.mjs)',
        convertedBy: null,
        modelTopology: model.toJSON(null, false),
        weightsManifest: [],
      },
      null,
      2,
    ) + '\n'
  );
}

await tf.setBackend('cpu');
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, make] of [
  ['vgg11.json', vgg11],
  ['resnet14.json', resnet14],
]) {
  const model = make();
  const text = definitionJson(model);
  const target = path.join(outDir, file);
  if (check) {
    const same = fs.existsSync(target) && fs.readFileSync(target, 'utf8') === text;
    if (!same) stale++;
    console.log(`${file}: ${same ? 'up to date' : 'differs from the generator'} (${model.countParams()} parameters)`);
  } else {
    fs.writeFileSync(target, text);
    console.log(`wrote ${path.relative(root, target)} (${model.countParams()} parameters)`);
  }
  model.dispose();
}
process.exit(stale ? 1 : 0);
