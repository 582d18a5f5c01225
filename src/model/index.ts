export * from './edges.js';
export * from './errors.js';
export * from './graph.js';
export * from './ids.js';
export * from './limits.js';
export * from './revision.js';
export * from './task.js';
export * from './transitions.js';
