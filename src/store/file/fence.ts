import { readFileSync } from 'node:fs';
import { TasklaneError } from '../../model/index.js';
import type { LockHandle } from './lock.js';

// The last check before a write commits. A task lock is only a convention between processes:
// Claude Code takes a lock of ours by age once we have not refreshed it for 10 s (a paused
// process, a stalled fsync), and nothing stops a process that resumes from renaming its file into
// place over what happened meanwhile. So every write made under a task lock confirms, right
// before its rename, that the lock directory is still the one it made and that the task file
// still holds the bytes it held when the lock was taken (the content every read under the lock
// saw). Otherwise the write is refused with CONFLICT and nothing lands.
//
// What is left: a pause between this check and the rename (microseconds, no I/O between them)
// is not covered; no file system offers a compare-and-rename to close it.

interface Guarded {
  handle: LockHandle;
  /** The file's bytes when the lock was taken, then as we last wrote them; undefined: absent. */
  bytes: Buffer | undefined;
}

/** One per store: the task locks it holds, by task id, with what each task file held. */
export class Fence {
  private readonly guarded = new Map<string, Guarded>();

  /** `fileOf` names a task's file. */
  constructor(private readonly fileOf: (task: string) => string) {}

  /** Remembers task `task`'s file as of taking its lock; the returned handle forgets it on release. */
  guard(task: string, handle: LockHandle): LockHandle {
    const entry: Guarded = { handle, bytes: readBytes(this.fileOf(task)) };
    this.guarded.set(task, entry);
    return {
      path: handle.path,
      isHeld: () => handle.isHeld(),
      release: () => {
        if (this.guarded.get(task) === entry) this.guarded.delete(task);
        handle.release();
      },
    };
  }

  /**
   * Throws CONFLICT unless a write of task `task` may commit now: its lock is still held and its
   * file unchanged since taken, or, with no task lock (create, under the list lock), a new task's
   * file does not exist yet.
   */
  confirm(task: string, creating = false): void {
    const file = this.fileOf(task);
    const entry = this.guarded.get(task);
    if (entry === undefined) {
      if (creating && readBytes(file) !== undefined) {
        throw new TasklaneError(
          'CONFLICT',
          `task ${task} was created by another process meanwhile; nothing was written`,
          {
            task,
            file,
          },
        );
      }
      return;
    }
    if (!entry.handle.isHeld()) {
      throw new TasklaneError(
        'CONFLICT',
        `task ${task}: this write lost its lock (${entry.handle.path}) while it was paused, to another program that judged it stale; nothing was written`,
        { task, file },
      );
    }
    const now = readBytes(file);
    if (now === undefined ? entry.bytes !== undefined : entry.bytes === undefined || !now.equals(entry.bytes)) {
      throw new TasklaneError(
        'CONFLICT',
        `task ${task} was changed by another program while this write held its lock; nothing was written`,
        { task, file },
      );
    }
  }

  /**
   * What task `task`'s file holds, as this lock holder knows it (read when the lock was taken, or
   * written since): `null` when the task's lock is not held through this fence. A read under the
   * lock needs no second read of the file: anyone changing it meanwhile is refused at commit.
   */
  knownBytes(task: string): Buffer | undefined | null {
    const entry = this.guarded.get(task);
    return entry === undefined ? null : entry.bytes;
  }

  /** After a commit: what task `task`'s file now holds (undefined: removed) is what later checks expect. */
  wrote(task: string, data: string | undefined): void {
    const entry = this.guarded.get(task);
    if (entry !== undefined) entry.bytes = data === undefined ? undefined : Buffer.from(data);
  }

  /** The check writeFileDurable runs right before its rename; then the bytes it commits are the expected ones. */
  beforeCommit(task: string, creating: boolean): (data: string) => void {
    return (data) => {
      this.confirm(task, creating);
      const entry = this.guarded.get(task);
      if (entry !== undefined) entry.bytes = Buffer.from(data);
    };
  }
}

function readBytes(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
