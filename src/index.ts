// Tasklane as a library: the model (task type, validation, graph) and the stores.
export * from './model/index.js';
export { parseStoreDescriptor, type StoreDescriptor, storeEnv } from './store/descriptor.js';
export { FileStore } from './store/file/file-store.js';
export {
  claudeTasksRoot,
  DEFAULT_LIST,
  findProjectRoot,
  type Location,
  type LocationInput,
  resolveLocation,
} from './store/location.js';
export { type OpenOptions, openStore } from './store/open.js';
export { type InitResult, initList, PROJECT_IGNORE_RULES } from './store/project.js';
export type * from './store/types.js';
