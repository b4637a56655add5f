import { registerFastBatchNormalization } from './batchNormalization';
import { registerLazyGradConv2D } from './conv2d';

/** Registers the project's layer classes in tfjs-layers' deserialisation registry (idempotent). */
export function registerProjectLayers(): void {
  registerFastBatchNormalization();
  registerLazyGradConv2D();
}
