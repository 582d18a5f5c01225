import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { errorResponse } from './errors.js';

// The board's defences, in the order a request meets them. A local web server is reachable from
// any page the browser shows, so each one answers a specific attack:
// - Host allow-list: DNS rebinding points an attacker's name at 127.0.0.1; the browser then sends
//   that name as Host, and an Origin check alone would see a "same-origin" request.
// - Token (non-loopback binds only): anyone on the network can reach the port.
// - Origin / Sec-Fetch-Site on every mutation: another site's page posting to the board (CSRF);
//   Sec-Fetch-Site on every API request, so no other site's page makes the board do work.
// - JSON bodies only: a cross-site form cannot send application/json without a CORS preflight,
//   which the board never answers.
// - CSP, frame-ancestors 'none', nosniff, no-referrer: task text injected as markup runs nothing,
//   the board cannot be framed (clickjacking), and the token never leaks in a Referer.

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The token cookie's name: per port, since a browser keeps one cookie per name and host whatever
 * the port, so two boards on one machine would each log the other out.
 */
export function tokenCookie(port: number | undefined): string {
  return `tasklane_board_${port ?? 0}`;
}

export interface SecurityOptions {
  /** The address the server binds (default 127.0.0.1). Any other than loopback needs `token`. */
  host: string;
  /** The port, once known (port 0 binds a free one): read on each request. */
  port: () => number | undefined;
  /** The access token; required (and only used) on a non-loopback bind. */
  token?: string;
}

/** Whether `host` is a loopback address or name, where only this machine's users can connect. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** A fresh unguessable access token. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** `host:port` as a URL authority: IPv6 in brackets, no port for 80. */
export function authority(host: string, port: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === 80 ? h : `${h}:${port}`;
}

/**
 * The Host header values the board answers to: loopback names and the bind address; on a bind to
 * every interface (0.0.0.0, ::), this machine's addresses and host name.
 */
export function allowedHosts(bind: string, port: number): Set<string> {
  const names = ['127.0.0.1', 'localhost', '::1'];
  if (bind !== '0.0.0.0' && bind !== '::') names.push(bind.replace(/^\[|\]$/g, ''));
  else {
    names.push(hostname());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.push(a.address);
  }
  return new Set(names.map((n) => authority(n, port).toLowerCase()));
}

export function security(opts: SecurityOptions): MiddlewareHandler {
  const loopback = isLoopback(opts.host);
  if (!loopback && (opts.token === undefined || opts.token === '')) {
    throw new Error(`binding ${opts.host} (not loopback) requires an access token`);
  }
  const token = loopback ? undefined : opts.token;
  let hosts: Set<string> | undefined;
  let hostsPort: number | undefined;

  return async (c, next) => {
    const port = opts.port();
    if (hosts === undefined || hostsPort !== port) {
      hosts = port === undefined ? new Set() : allowedHosts(opts.host, port);
      hostsPort = port;
    }
    const refusal = await refuse(c, hosts, token, tokenCookie(port));
    if (refusal !== undefined) c.res = refusal;
    else await next();
  };
}

/** The response headers every answer carries, refusals and errors included: the outermost middleware. */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    setHeaders(c.res.headers);
  };
}

async function refuse(
  c: Context,
  hosts: Set<string>,
  token: string | undefined,
  cookie: string,
): Promise<Response | undefined> {
  const host = (c.req.header('host') ?? new URL(c.req.url).host).toLowerCase();
  if (!hosts.has(host)) {
    return errorResponse(c, 'FORBIDDEN', `the board does not answer to host ${JSON.stringify(host)}`, {
      host,
    });
  }
  if (token !== undefined) {
    const url = new URL(c.req.url);
    const offered = url.searchParams.get('token');
    if (c.req.method === 'GET' && url.pathname === '/' && offered !== null) {
      if (!sameSecret(offered, token)) return errorResponse(c, 'UNAUTHORIZED', 'the token in the URL is not valid');
      // Exchanged once for a cookie scripts cannot read and other sites' requests do not carry.
      setCookie(c, cookie, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      return c.redirect('/', 303);
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const presented = bearer ?? getCookie(c, cookie);
    if (presented === undefined || !sameSecret(presented, token)) {
      return errorResponse(
        c,
        'UNAUTHORIZED',
        'this board needs its access token: open the URL with ?token= that tasklane board printed',
      );
    }
  }
  const site = c.req.header('sec-fetch-site');
  const foreign = site !== undefined && site !== 'same-origin' && site !== 'none';
  if (foreign && (c.req.header('sec-fetch-mode') !== 'navigate' || !isPage(c.req.path))) {
    // A GET from another site's page (an <img>, a no-cors fetch, an EventSource) cannot read the
    // answer, but it makes the board work: open lists, lay out a graph, hold a stream. Only a
    // link to the board's page is followed.
    return errorResponse(c, 'FORBIDDEN', `a request from a ${site} page is refused`);
  }
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      if (origin.toLowerCase() !== `http://${host}`) {
        return errorResponse(c, 'FORBIDDEN', `a change from another origin (${origin}) is refused`, { origin });
      }
    } else if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return errorResponse(c, 'FORBIDDEN', `a change from a ${site} page is refused`);
    }
    if (await hasBody(c)) {
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        return errorResponse(c, 'INVALID_INPUT', 'a request body must be JSON (Content-Type: application/json)', {
          field: 'Content-Type',
        });
      }
    }
  }
  return undefined;
}

/** The board's page (a link from elsewhere may open it): `/` and its token exchange, `/index.html`. */
function isPage(path: string): boolean {
  return path === '/' || path === '/index.html';
}

/** Whether the request carries a body; read here (Hono keeps it for the route) when the headers do not say. */
async function hasBody(c: Context): Promise<boolean> {
  const length = c.req.header('content-length');
  if (length !== undefined) return Number(length) > 0;
  if (c.req.raw.body === null) return false;
  return (await c.req.arrayBuffer()).byteLength > 0;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function setHeaders(headers: Headers): void {
  headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('Referrer-Policy', 'no-referrer');
  headers.set('X-Frame-Options', 'DENY');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  if (!headers.has('Cache-Control')) headers.set('Cache-Control', 'no-store');
}
