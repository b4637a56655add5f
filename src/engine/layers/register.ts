import * as tf from '@tensorflow/tfjs-core';
import { FastBatchNormalization } from './batchNormalization';
import { LazyGradConv2D } from './conv2d';
import { OnnxGraphLayer } from './onnxGraph';
import { FusedSequential } from './sequential';

let registered = false;

/**
 * Registers the project's layer classes in tfjs-layers' deserialisation registry under their Keras
 * class names (idempotent), so model.json files build them. SerializationMap.register, not
 * registerClass: the latter would also rename the class to "Custom>…" in saved models.
 */
export function registerProjectLayers(): void {
  if (registered) return;
  for (const cls of [FastBatchNormalization, LazyGradConv2D, OnnxGraphLayer, FusedSequential]) {
    tf.serialization.SerializationMap.register(cls);
  }
  registered = true;
}
