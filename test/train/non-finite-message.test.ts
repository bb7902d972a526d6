import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrainerState } from '../../src/train/checkpoint-store.js';
import { nonFiniteStopMessage } from '../../src/train/trainer.js';

const state = (step: number, bad: number): TrainerState => ({
  formatVersion: 1, step, tokens: 0, totalSteps: 100, optimizerStep: 0, skippedSteps: bad, consecutiveBad: bad,
  data: { kind: 'test' }, lastLoss: null, lastHeldout: null, savedAt: '',
});

test('the message after repeated non-finite steps says what is true of this run', () => {
  // Fresh run, failures after good steps: the weights are finite, the checkpoint predates the failures.
  assert.equal(
    nonFiniteStopMessage(state(20, 5), null, 'm/checkpoint', true),
    'training stopped: the loss or gradient was non-finite for 5 steps in a row (steps 16..20). The weights are still finite (skipped steps do not change them). The last checkpoint (m/checkpoint) was saved before these steps and its weights were checked finite when written. Lower train.lr, set train.clip, or check the data for bad tokens.',
  );
  // Resumed at step 10 and every step since failed: the checkpoint is suspect, not vouched for.
  assert.match(nonFiniteStopMessage(state(15, 5), 10, 'm/checkpoint', true), /Every step since resuming from m\/checkpoint \(step 10\) failed, so that checkpoint may be the cause/);
  // Non-finite weights (an initial model that slipped through): said so.
  assert.match(nonFiniteStopMessage(state(5, 5), null, undefined, false), /The weights themselves are non-finite \(from the initial model\)/);
  for (const m of [nonFiniteStopMessage(state(15, 5), 10, 'c', true), nonFiniteStopMessage(state(5, 5), null, undefined, false)]) assert.doesNotMatch(m, /holds finite weights/);
});
