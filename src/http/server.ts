import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { TasklaneError } from '../model/errors.js';
import { type BoardOptions, createBoardApp } from './app.js';
import { authority, isLoopback, newToken } from './security.js';

// The board on a socket: bind, learn the port (0 picks a free one), and hand back the URL and
// a close() that ends every stream and stops every feed before the server closes.

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4800;

export interface StartOptions extends Omit<BoardOptions, 'port' | 'host' | 'token'> {
  /** Default 127.0.0.1. Any other address requires a token, made here when not given. */
  host?: string;
  /** Default 4800; 0 binds any free port. */
  port?: number;
  token?: string;
}

export interface RunningBoard {
  /** The board's address; on a non-loopback bind it carries `?token=`, to be shown once. */
  url: string;
  /** The address without the token. */
  origin: string;
  port: number;
  /** Stops accepting, ends every stream and feed, closes the lists the board opened. Idempotent. */
  close(): Promise<void>;
}

/** Starts the board server; rejects with a clear error when the port is taken. */
export async function startBoard(options: StartOptions): Promise<RunningBoard> {
  const host = options.host ?? DEFAULT_HOST;
  const loopback = isLoopback(host);
  const token = loopback ? undefined : (options.token ?? newToken());
  let port: number | undefined;
  const board = createBoardApp({
    ...options,
    host,
    port: () => port,
    ...(token === undefined ? {} : { token }),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: board.app.fetch, hostname: host, port: options.port ?? DEFAULT_PORT }, () => {
      s.off('error', onError);
      resolve(s);
    });
    const onError = (err: NodeJS.ErrnoException): void => {
      void board.close();
      const wanted = options.port ?? DEFAULT_PORT;
      if (err.code === 'EADDRINUSE') {
        reject(
          new TasklaneError(
            'USAGE',
            `port ${wanted} on ${host} is in use; pick another with --port N (0 = any free port)`,
            {
              field: '--port',
              cause: err,
            },
          ),
        );
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(
          new TasklaneError('USAGE', `cannot bind ${host}: no such local address`, { field: '--host', cause: err }),
        );
      } else
        reject(new TasklaneError('IO', `cannot start the board on ${host}:${wanted}: ${err.message}`, { cause: err }));
    };
    s.once('error', onError);
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${authority(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port)}`;
  let closing: Promise<void> | undefined;
  return {
    url: token === undefined ? `${origin}/` : `${origin}/?token=${token}`,
    origin,
    port,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await board.close();
        // Streams are ended; idle keep-alive sockets would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        await stopped;
      })();
      return closing;
    },
  };
}
