import { openStore } from '../src/store/open.js';
import { tempDir } from './helpers.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('file store', (list = 'contract', sameStoreAs) =>
  openStore(sameStoreAs === undefined ? tempDir() : sameStoreAs.descriptor, list),
);
