// sbp/sample: batched generation with a KV cache, the logits sampler, its random streams, and the text-in/text-out TextModel.
export { generate, type GenerateOptions, type Generation } from './sampler.js';
export { LogitsSampler, argmax, type SamplingOptions } from './logits-sampler.js';
export { sampleTexts, type SampleTextOptions, type SampleRecord } from './sample-texts.js';
export { Rng, type RngState } from './rng.js';
export { loadModel, TextModel, type TextScore, type TokenIds, type GenerateTextOptions, type LoadModelOptions } from './text-model.js';
