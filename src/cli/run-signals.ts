import { signalRunningAgents } from '../engine/process-tree.js';
import { onBrokenPipe } from './broken-pipe.js';

// The signals a command that runs agents answers, in one place for `run` and `worker`. The agents
// lead process groups of their own (so that stopping one reaches all it started), which also
// means the terminal's signals do not reach them: the run passes them on.
//  - Ctrl-C, SIGTERM, SIGHUP (the terminal closed): stop, through `onStop`;
//  - a closed stdout or stderr (`tasklane run | head`): stop the same way (as 'SIGPIPE');
//  - Ctrl-Z (SIGTSTP): stop the agents with everything they started, then the run itself; `fg`
//    (SIGCONT) resumes the agents.

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGPIPE';

/** The exit status for a run stopped by `signal`: 128 + its number. */
export const SIGNAL_EXIT: Record<StopSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGPIPE: 141, SIGTERM: 143 };

/** Installs the handlers; the returned function removes them. */
export function handleRunSignals(onStop: (signal: StopSignal) => void): () => void {
  const stop = (signal: NodeJS.Signals) => onStop(signal as StopSignal);
  const suspend = () => {
    signalRunningAgents('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  };
  const resume = () => signalRunningAgents('SIGCONT');
  const stops: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of stops) process.on(s, stop);
  process.on('SIGTSTP', suspend);
  process.on('SIGCONT', resume);
  const offPipe = onBrokenPipe(() => onStop('SIGPIPE'));
  return () => {
    for (const s of stops) process.off(s, stop);
    process.off('SIGTSTP', suspend);
    process.off('SIGCONT', resume);
    offPipe();
  };
}
