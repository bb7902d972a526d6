// The public library entry: everything a program needs to run sbp's stages without the CLI.
export * from './common/errors.js';
export * from './config/schema.js';
export * from './config/load.js';
export * from './experiment/stage.js';
export * from './data/index.js';
