import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { tidyRead, tidyReadAll } from '../../../src/engine/util/read';

test('tidyRead returns the values and leaves no tensor behind, intermediates included', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const v = tidyRead(() => tf.mul(tf.add(tf.tensor1d([1, 2, 3]), 1), 2));
  assert.deepEqual(Array.from(v), [4, 6, 8]);
  const [a, b] = tidyReadAll(() => [tf.tensor1d([1]), tf.square(tf.tensor1d([3, 4]))]);
  assert.deepEqual([Array.from(a!), Array.from(b!)], [[1], [9, 16]]);
  assert.equal(tf.memory().numTensors, before);
});

test('tidyRead frees the tensors when the function throws', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  assert.throws(
    () =>
      tidyRead(() => {
        tf.tensor1d([1, 2]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(tf.memory().numTensors, before);
});
