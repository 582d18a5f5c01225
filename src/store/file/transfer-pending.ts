import type { ExportRecord, ImportOptions, ImportReport } from '../types.js';

// Placeholder for the pg-core branch only: the file store's exportList/importList come from the
// pg-io branch (its file-store.ts). This declaration lets this branch compile against the contract
// additions without implementing them twice; the lead deletes this file when merging pg-io.
declare module './file-store.js' {
  interface FileStore {
    exportList(): AsyncIterable<ExportRecord>;
    importList(
      records: AsyncIterable<ExportRecord> | Iterable<ExportRecord>,
      opts?: ImportOptions,
    ): Promise<ImportReport>;
  }
}
