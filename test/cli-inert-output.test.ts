import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../src/store/open.js';
import { cliPath, tempDir } from './helpers.js';

// Observation 9: task text and agent output are data, never terminal control. Every command that
// shows them to a person prints control characters visibly; --json keeps the exact text.

/** A window title, a clipboard write, a screen clear, an 8-bit CSI, a bidi override and isolate. */
const EVIL = 'Fix \x1b]0;pwned\x07 \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J \u009b31m \u202eexe.txt\u2066 \x7f done';
const EVIL_TEXT = `line one\n\x1b[2J\x1b[Hline two\ttabbed\r\x1b]52;c;aGk=\x1b\\ \u202e end`;

/** ESC, the other C0 controls but newline and tab, DEL, C1, and the bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function assertInert(output: string, what: string): void {
  const m = UNSAFE.exec(output);
  assert.equal(
    m,
    null,
    `${what} printed U+${m?.[0].charCodeAt(0).toString(16).padStart(4, '0')} raw: ${JSON.stringify(output.slice(0, 400))}`,
  );
}

function tl(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A list with one task whose every text field holds terminal control. */
async function evilList(): Promise<{ dir: string; id: string }> {
  const dir = tempDir();
  const store = openStore({ dir, list: 'evil' });
  const task = await store.create({
    subject: EVIL,
    description: EVIL_TEXT,
    activeForm: EVIL,
    owner: `o\x1b]0;x\x07wner`,
    labels: ['l\x1b[2J'],
    metadata: { 'k\x1b[2J': EVIL },
  });
  await store.create({ subject: `blocked by ${EVIL}`, blockedBy: [task.id] });
  await store.close();
  return { dir, id: task.id };
}

async function addTask(dir: string, subject: string): Promise<string> {
  const store = openStore({ dir, list: 'evil' });
  const task = await store.create({ subject });
  await store.close();
  return task.id;
}

describe('terminal output is inert', () => {
  it('show, list, ready, blocked and history print control characters visibly', async () => {
    const { dir, id } = await evilList();
    const base = ['--dir', dir, '--list', 'evil'];
    for (const args of [['show', id], ['list'], ['list', '--all'], ['ready'], ['blocked'], ['history']]) {
      const r = tl([...base, ...args]);
      assert.equal(r.status, 0, r.stderr);
      assertInert(r.stdout, args.join(' '));
      assertInert(r.stderr, `${args.join(' ')} (stderr)`);
    }
    const show = tl([...base, 'show', id]).stdout;
    assert.match(show, /Fix \^\[\]0;pwned\^G/, 'ESC and BEL shown in caret notation');
    assert.match(show, /<U\+202E>exe\.txt<U\+2066>/, 'bidi controls shown by code point');
    assert.match(show, /\n {2}line one\n {2}\^\[\[2J\^\[\[Hline two\ttabbed\^M/, 'the description keeps its lines');
  });

  it('a store path holding terminal control is printed visibly by init, list, lists, doctor and demo', () => {
    const project = join(tempDir(), 'proj\x1b]0;PWNED\x07\u009b2J');
    mkdirSync(project);
    const inProject = (args: string[]) => {
      const r = spawnSync(process.execPath, [cliPath, ...args], {
        cwd: project,
        env: { ...process.env, NO_COLOR: '1', TASKLANE_STORE: '', TASKLANE_DIR: '' },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      return `${r.stdout}${r.stderr}`;
    };
    for (const args of [['init', '--no-git'], ['list'], ['lists'], ['doctor']]) {
      const out = inProject(args);
      assert.match(out, /proj\^\[\]0;PWNED/, `${args[0]} names the path`);
      assertInert(out, args.join(' '));
    }
    assertInert(inProject(['--dir', join(project, 'demo'), 'demo']), 'demo');
  });

  it('--json keeps the exact text, with no raw C1 or bidi characters', async () => {
    const { dir, id } = await evilList();
    const base = ['--dir', dir, '--list', 'evil', '--json'];
    const show = tl([...base, 'show', id]);
    assertInert(show.stdout, 'show --json');
    const task = JSON.parse(show.stdout).task;
    assert.equal(task.subject, EVIL);
    assert.equal(task.description, EVIL_TEXT);
    assert.equal(task.owner, `o\x1b]0;x\x07wner`);
    const list = tl([...base, 'list']);
    assertInert(list.stdout, 'list --json');
    assert.equal(JSON.parse(list.stdout).tasks[0].subject, EVIL);
    const history = tl([...base, 'history']);
    assertInert(history.stdout, 'history --json');
    assert.equal(JSON.parse(history.stdout).entries[0].task.subject, EVIL);
  });

  it('errors quoting task text or arguments print them visibly', () => {
    const dir = tempDir();
    const r = tl(['--dir', dir, 'show', `\x1b]0;pwned\x07`]);
    assert.notEqual(r.status, 0);
    assertInert(r.stderr, 'the error');
    assert.match(r.stderr, /\^\[\]0;pwned\^G/);
  });

  it('watch prints changes inertly, and --json exactly', async () => {
    const { dir } = await evilList();
    for (const json of [false, true]) {
      const child = spawn(
        process.execPath,
        [cliPath, '--dir', dir, '--list', 'evil', 'watch', '--initial', ...(json ? ['--json'] : [])],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
      );
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString('utf8');
          if (out.split('\n').length > 2) resolve();
        });
        child.on('exit', () => reject(new Error(`watch exited early: ${out}`)));
      });
      child.kill('SIGTERM');
      assertInert(out, json ? 'watch --json' : 'watch');
      if (json) assert.equal(JSON.parse(out.split('\n')[0] as string).task.subject, EVIL);
      else assert.match(out, /Fix \^\[\]0;pwned\^G/);
    }
  });

  it("run's progress lines, failure reasons and aggregated result are inert; its --json is exact", async () => {
    const dir = tempDir();
    const agent = join(dir, 'evil-agent.mjs');
    // An agent that talks terminal control on stdout and stderr, and puts it in its result.
    writeFileSync(
      agent,
      `import { writeFileSync } from 'node:fs';
const evil = ${JSON.stringify(EVIL)};
process.stdout.write(evil + '\\n');
process.stderr.write(evil + '\\n');
writeFileSync(process.env.TASKLANE_RESULT_FILE, 'result: ' + evil);
process.exit(process.env.TASKLANE_TASK_ID === '2' ? 1 : 0);
`,
    );
    const store = openStore({ dir, list: 'evil' });
    await store.create({ subject: EVIL });
    await store.create({ subject: `second ${EVIL}` });
    await store.close();
    const args = ['--dir', dir, '--list', 'evil', 'run', '--agent', `"${process.execPath}" "${agent}"`, '--grace', '1'];
    const r = tl(args);
    assert.equal(r.status, 1, r.stderr);
    assertInert(r.stderr, 'run progress');
    assert.match(r.stderr, /done #1 Fix \^\[\]0;pwned\^G/);
    assert.match(r.stderr, /FAILED #2 second Fix \^\[\]0;pwned/);

    // On a terminal (script(1) gives the run a pty): the live view and the aggregate are inert.
    await addTask(dir, `third ${EVIL}`);
    const line = [process.execPath, cliPath, ...args, '--retry-failed'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
    const tty = spawnSync('script', ['-qefc', line.join(' '), '/dev/null'], {
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', COLUMNS: '200' },
      encoding: 'utf8',
      input: '',
    });
    assert.equal(tty.error, undefined);
    // What the live view itself writes: cursor up and clear below, and colour (none with NO_COLOR).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing our own sequences is the point
    const ours = tty.stdout.replace(/\x1b\[\d+F\x1b\[J|\x1b\[[0-9;]*m|\r/g, '');
    assertInert(ours, 'run on a terminal');
    assert.match(ours, /result: Fix \^\[\]0;pwned\^G/, 'the aggregate shows the result, visibly');

    const fourth = await addTask(dir, `fourth ${EVIL}`);
    const json = tl([...args, '--json']);
    assertInert(json.stdout, 'run --json');
    const done = JSON.parse(json.stdout).tasks.find((t: { id: string }) => t.id === fourth);
    assert.equal(done?.subject, `fourth ${EVIL}`);
    assert.equal(done?.result, `result: ${EVIL}`);
  });
});
