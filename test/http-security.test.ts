import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createBoardApp } from '../src/http/app.js';
import { CONTENT_SECURITY_POLICY } from '../src/http/security.js';
import { startBoard } from '../src/http/server.js';
import { snapshot } from './cli-run.js';
import { appCall, rawRequest, socketCall, tempStore } from './http-helpers.js';

// The board's defences: the Host allow-list (DNS rebinding), Origin and Sec-Fetch-Site on
// mutations (CSRF), JSON bodies only, the token on non-loopback binds, and headers that keep
// task text inert and the board unframable.

function loopbackBoard() {
  const { root, store } = tempStore();
  const board = createBoardApp({ store, port: 4800, assetsDir: null });
  after(() => board.close());
  return { root, store, board, call: appCall(board.app) };
}

describe('HTTP security', () => {
  it('refuses a foreign Host, through the app and over a socket', async () => {
    const { board } = loopbackBoard();
    const viaApp = await board.app.request('http://attacker.example:4800/api/info');
    assert.equal(viaApp.status, 403);
    assert.equal(((await viaApp.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');

    const { store } = tempStore();
    const running = await startBoard({ store, port: 0, assetsDir: null });
    after(() => running.close());
    const url = `${running.origin}/api/info`;
    const rebound = await rawRequest(url, { headers: { host: `attacker.example:${running.port}` } });
    assert.equal(rebound.status, 403, rebound.text);
    assert.equal(JSON.parse(rebound.text).error.code, 'FORBIDDEN');
    const wrongPort = await rawRequest(url, { headers: { host: '127.0.0.1:1' } });
    assert.equal(wrongPort.status, 403);
    for (const host of [`127.0.0.1:${running.port}`, `localhost:${running.port}`, `[::1]:${running.port}`]) {
      assert.equal((await rawRequest(url, { headers: { host } })).status, 200, host);
    }
  });

  it('refuses a mutation from another origin or a cross-site page, and changes nothing', async () => {
    const { root, call } = loopbackBoard();
    const before = snapshot(root);
    const body = { subject: 'planted' };
    for (const origin of ['http://attacker.example', 'http://localhost:4801', 'null']) {
      const r = await call('POST', '/api/lists/default/tasks', body, { origin });
      assert.equal(r.status, 403, origin);
      assert.equal(r.json.error.code, 'FORBIDDEN');
    }
    for (const site of ['cross-site', 'same-site']) {
      // No Origin header at all, only the browser's Sec-Fetch-Site.
      const r = await call('POST', '/api/lists/default/tasks', body, { origin: '', 'sec-fetch-site': site });
      assert.equal(r.status, 403, site);
      assert.match(r.json.error.message, new RegExp(site));
    }
    const plain = await call('POST', '/api/lists/default/tasks', 'subject=planted', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(plain.status, 400);
    assert.equal(plain.json.error.field, 'Content-Type');
    const text = await call('POST', '/api/lists/default/tasks', JSON.stringify(body), { 'content-type': 'text/plain' });
    assert.equal(text.status, 400);
    assert.deepEqual(snapshot(root), before);
    const ok = await call('POST', '/api/lists/default/tasks', body, { 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.status, 201, ok.text);
  });

  it('a non-loopback bind refuses everything without the token; the token URL sets a strict cookie', async () => {
    const { store } = tempStore();
    assert.throws(() => createBoardApp({ store, host: '0.0.0.0', port: 4800 }), /token/);
    const running = await startBoard({ store, host: '0.0.0.0', port: 0, assetsDir: null });
    after(() => running.close());
    const token = new URL(running.url).searchParams.get('token');
    assert.ok(token !== null && token.length >= 24, running.url);
    const origin = `http://127.0.0.1:${running.port}`;
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/info'],
      ['GET', '/api/lists'],
      ['GET', '/api/lists/default/tasks'],
      ['GET', '/api/events'],
      ['POST', '/api/lists/default/tasks'],
    ] as const) {
      const r = await rawRequest(`${origin}${path}`, {
        method,
        headers: { origin, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{"subject":"x"}' } : {}),
      });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(JSON.parse(r.text).error.code, 'UNAUTHORIZED');
    }
    assert.equal((await rawRequest(`${origin}/?token=wrong`)).status, 401);
    assert.equal((await rawRequest(`${origin}/api/info`, { headers: { cookie: 'tasklane_board=wrong' } })).status, 401);

    const exchange = await rawRequest(running.url);
    assert.equal(exchange.status, 303);
    assert.equal(exchange.headers.location, '/');
    const cookie = String(exchange.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^tasklane_board_${running.port}=`));
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    const pair = cookie.split(';')[0] as string;
    const withCookie = await rawRequest(`${origin}/api/info`, { headers: { cookie: pair } });
    assert.equal(withCookie.status, 200, withCookie.text);
    const post = await socketCall(origin)(
      'POST',
      '/api/lists/default/tasks',
      { subject: 'by cookie' },
      { cookie: pair },
    );
    assert.equal(post.status, 201, post.text);
    const bearer = await rawRequest(`${origin}/api/lists`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 200);
  });

  it('every response carries the CSP, frame-ancestors none, nosniff and no-referrer', async () => {
    const { call } = loopbackBoard();
    const responses = [
      await call('GET', '/api/info'),
      await call('GET', '/api/nope'),
      await call('GET', '/'),
      await call('POST', '/api/lists/default/tasks', { subject: 'x' }, { origin: 'http://attacker.example' }),
    ];
    for (const r of responses) {
      assert.equal(r.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, String(r.status));
      assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    }
  });

  it('a subject and description holding markup come back as plain JSON text', async () => {
    const { call } = loopbackBoard();
    const subject = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const description = '</script><b>bold</b>"quotes" & ampersands';
    const created = await call('POST', '/api/lists/default/tasks', { subject, description });
    assert.equal(created.status, 201);
    for (const path of ['/api/lists/default/tasks', '/api/lists/default/tasks/1']) {
      const r = await call('GET', path);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      const task = r.json.task ?? r.json.tasks[0];
      assert.equal(task.subject, subject);
      assert.equal(task.description, description);
    }
  });
});
