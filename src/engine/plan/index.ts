// Plans into tasks: parse (markdown, JSON, YAML, or an agent's answer), validate, apply.
export * from './agent.js';
export * from './annotations.js';
export * from './apply.js';
export * from './load.js';
export * from './markdown.js';
export * from './shape.js';
export * from './spec.js';
