// sbp/config: the run config — zod schemas with defaults, presets, and resolving file + overrides into one RunConfig.
export * from './schema.js';
export * from './load.js';
