import { spawn } from 'node:child_process';
import type { CommandIO } from './registry.js';

/** The system's opener, detached, with the URL as an argument (never a shell string). */
export function openBrowser(io: CommandIO, url: string, who: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'linux' ? 'xdg-open' : undefined;
  if (opener === undefined) return;
  try {
    const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
    child.on('error', () => io.stderr.write(`${who}: could not start ${opener}; open ${url} yourself\n`));
    child.unref();
  } catch {
    io.stderr.write(`${who}: could not start ${opener}; open ${url} yourself\n`);
  }
}

/** Whether to open a browser: not when asked not to, nor when stdout is not a terminal, nor under CI. */
export function wantsBrowser(io: CommandIO, noOpen: boolean): boolean {
  return !noOpen && io.stdout.isTTY === true && !io.env.CI;
}
