// What a closed stdout or stderr does. By default a command exits quietly (`tasklane list | head`
// is not an error); a command that runs agents registers a handler instead, so that a reader
// going away stops the run cleanly (agents stopped, tasks released) rather than orphaning them.

let handler: (() => void) | undefined;

/** While registered, a broken stdout or stderr calls `fn` (possibly more than once) instead of exiting. */
export function onBrokenPipe(fn: () => void): () => void {
  handler = fn;
  return () => {
    if (handler === fn) handler = undefined;
  };
}

/** Errors on a standard stream that mean "nobody reads any more": the pipe's reader left, or the terminal closed. */
export function isBrokenPipe(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EPIPE' || err.code === 'EIO' || err.code === 'ERR_STREAM_DESTROYED';
}

/** Calls the registered handler; whether there was one. */
export function brokenPipe(): boolean {
  if (handler === undefined) return false;
  handler();
  return true;
}
