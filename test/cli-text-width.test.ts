import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it, mock } from 'node:test';
import { progressView } from '../src/cli/live-view.js';
import { palette } from '../src/cli/output.js';
import { clipToWidth, cutToWidth, displayWidth, padToWidth } from '../src/cli/text-width.js';
import type { LiveStatus } from '../src/engine/coordinator.js';
import { EngineEvents } from '../src/engine/events.js';
import { cliPath, runCli, tempDir } from './helpers.js';

// Tables and the live view pad and cut by terminal columns, not UTF-16 units: an emoji is two
// units and two columns, 日 one unit and two columns, 👩‍💻 five units and two columns. A cut that
// splits a surrogate pair prints U+FFFD; one that counts units lets wide text wrap the line.

const EMOJI = `a${'😀'.repeat(40)}`;
const CJK = '日本語'.repeat(15);
const ZWJ = `${'👩‍💻'.repeat(20)} fix`;
const FLAGS = '🇯🇵🇫🇷'.repeat(12);
const ACCENTS = 'e\u0301'.repeat(70);

/** What UTF-8 output of `text` decodes to: a lone surrogate comes back as U+FFFD. */
function printed(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

describe('display width', () => {
  it('counts columns by grapheme cluster', () => {
    assert.equal(displayWidth('hello, world'), 12);
    assert.equal(displayWidth(''), 0);
    assert.equal(displayWidth('😀'), 2, 'an emoji is two columns (two UTF-16 units)');
    assert.equal(displayWidth('👩‍💻'), 2, 'a ZWJ sequence is one emoji (five units)');
    assert.equal(displayWidth('👍🏽'), 2, 'a skin tone modifies the emoji before it');
    assert.equal(displayWidth('🇯🇵'), 2, 'a flag is two regional indicators shown as one');
    assert.equal(displayWidth('🏴󠁧󠁢󠁳󠁣󠁴󠁿'), 2, 'a tag sequence flag');
    assert.equal(displayWidth('❤️'), 2, 'a text symbol asked for as emoji with VS16');
    assert.equal(displayWidth('☺'), 1, 'a text symbol without VS16');
    assert.equal(displayWidth('日本語'), 6, 'CJK ideographs are wide');
    assert.equal(displayWidth('한국어'), 6, 'Hangul syllables are wide');
    assert.equal(displayWidth('ｶﾀｶﾅ'), 4, 'halfwidth katakana are narrow');
    assert.equal(displayWidth('ＡＢ'), 4, 'fullwidth Latin is wide');
    assert.equal(displayWidth('e\u0301'), 1, 'a combining accent takes no column');
    assert.equal(displayWidth('café'), 4);
    assert.equal(displayWidth('a\u200bb'), 2, 'a zero-width space takes none');
    assert.equal(displayWidth('…'), 1);
  });

  it('cuts whole clusters, with …, to at most the width', () => {
    assert.equal(cutToWidth('hello, world', 12), 'hello, world', 'what fits is unchanged');
    assert.equal(cutToWidth('hello, world', 6), 'hello…');
    assert.equal(cutToWidth('😀😀😀😀', 6), '😀😀…', 'no half emoji');
    assert.equal(cutToWidth('a😀😀😀', 4), 'a😀…');
    assert.equal(cutToWidth('a😀😀😀', 3), 'a…', 'a wide character that would not fit is left out');
    assert.equal(cutToWidth('👩‍💻👩‍💻👩‍💻', 5), '👩‍💻👩‍💻…', 'a ZWJ sequence is kept whole');
    assert.equal(cutToWidth('🇯🇵🇫🇷🇯🇵', 4), '🇯🇵…', 'a flag is kept whole');
    assert.equal(cutToWidth('日本語日本語', 7), '日本語…');
    assert.equal(cutToWidth('日本語日本語', 6), '日本…');
    assert.equal(cutToWidth('e\u0301e\u0301e\u0301e\u0301', 3), 'e\u0301e\u0301…', 'accents stay on their letter');
    assert.equal(cutToWidth('abc', 0), '');
    for (const text of [EMOJI, CJK, ZWJ, FLAGS, ACCENTS]) {
      for (let n = 1; n <= 30; n++) {
        const cut = cutToWidth(text, n);
        assert.ok(displayWidth(cut) <= n && displayWidth(cut) >= n - 1, `${JSON.stringify(cut)} for ${n} columns`);
        assert.equal(printed(cut), cut, `${JSON.stringify(cut)} splits a character`);
        assert.ok(cut.endsWith('…'));
      }
    }
  });

  it('clips without an ellipsis and pads with spaces to the width', () => {
    assert.equal(clipToWidth('日本語', 5), '日本');
    assert.equal(clipToWidth('a😀b', 2), 'a');
    assert.equal(clipToWidth('abc', 5), 'abc');
    assert.equal(padToWidth('日本', 6), '日本  ');
    assert.equal(padToWidth('👩‍💻', 4), '👩‍💻  ');
    assert.equal(padToWidth('e\u0301', 3), 'e\u0301  ');
    assert.equal(padToWidth('abcdef', 3), 'abcdef', 'never cut by padding');
    assert.equal(displayWidth(padToWidth(cutToWidth('a😀😀😀', 3), 3)), 3, 'a cut padded fills the column exactly');
  });
});

/** Runs `list` on a terminal `columns` wide (script(1) gives it a pty) and returns its lines. */
function listOnTerminal(dir: string, columns: number): string[] {
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols ${columns}; exec ${[process.execPath, cliPath, '--dir', dir, 'list', '--no-color'].map(quote).join(' ')}`;
  const r = spawnSync('script', ['-qefc', command, '/dev/null'], {
    env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
    encoding: 'utf8',
    input: '',
  });
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, r.stdout);
  return r.stdout.split(/\r?\n/).filter((l) => l !== '');
}

function create(dir: string, subject: string, ...more: string[]): void {
  const r = runCli(['--dir', dir, 'create', subject, ...more]);
  assert.equal(r.status, 0, r.stderr);
}

describe('tables on a terminal', () => {
  it('cut the SUBJECT column by columns: no half emoji, no row wider than the terminal', () => {
    const dir = tempDir();
    for (const subject of [EMOJI, CJK, ZWJ, FLAGS, ACCENTS]) create(dir, subject);
    create(dir, 'plain', '--blocked-by', '2');
    for (const columns of [60, 50]) {
      const lines = listOnTerminal(dir, columns);
      assert.equal(lines.length, 7, lines.join('\n'));
      for (const line of lines) {
        assert.ok(!line.includes('\ufffd'), `U+FFFD printed at ${columns} columns: ${line}`);
        assert.ok(displayWidth(line) <= columns, `${displayWidth(line)} columns wide at ${columns}: ${line}`);
      }
      for (const line of lines.slice(1, 6)) assert.ok(line.endsWith('…'), `cut short with …: ${line}`);
      const blockedAt = displayWidth(lines[0]?.slice(0, lines[0].indexOf('BLOCKED BY')) ?? '');
      const row = lines[6] ?? '';
      assert.equal(displayWidth(row.slice(0, row.lastIndexOf('#2'))), blockedAt, 'BLOCKED BY stays aligned');
    }
  });

  it('align columns after wide subjects in a pipe too', () => {
    const dir = tempDir();
    create(dir, 'plain first');
    for (const subject of ['日本語日本語', '👩‍💻 pairing', 'cafe\u0301 crème', '🇯🇵 flag']) {
      create(dir, subject, '--blocked-by', '1');
    }
    const r = runCli(['--dir', dir, 'list']);
    assert.equal(r.status, 0, r.stderr);
    const [head = '', ...rows] = r.stdout.trimEnd().split('\n');
    const at = displayWidth(head.slice(0, head.indexOf('BLOCKED BY')));
    assert.equal(rows.length, 5);
    for (const row of rows.slice(1)) {
      assert.equal(displayWidth(row.slice(0, row.lastIndexOf('#1'))), at, `BLOCKED BY misaligned: ${row}`);
    }
  });
});

describe('the live view of run', () => {
  it('cuts its lines to the terminal by columns, never inside a character', () => {
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    try {
      let out = '';
      const stderr = Object.assign(
        new Writable({
          write(chunk, _enc, done) {
            out += String(chunk);
            done();
          },
        }),
        { isTTY: true, columns: 41, rows: 24 },
      );
      const events = new EngineEvents();
      const agent = (id: string, subject: string) => ({
        id,
        subject,
        slot: 0,
        owner: 'o',
        phase: 'running' as const,
        startedAt: 1_000_000,
        attempt: 1,
        lastLine: `${subject} ${subject}`,
        lastAt: 1_000_000,
      });
      const status = (): LiveStatus => ({
        startedAt: 1_000_000,
        total: 5,
        completed: 1,
        failed: 0,
        running: 3,
        elsewhere: 0,
        ready: 0,
        blocked: 1,
        agents: [agent('2', CJK), agent('3', EMOJI), agent('4', ZWJ)],
      });
      const view = progressView({ stderr, events, status, live: true, p: palette(false) });
      events.emit({ type: 'finish', taskId: '1', subject: CJK, outcome: 'completed', durationMs: 1500, at: 1_001_500 });
      events.emit({ type: 'warning', message: `${'a'.repeat(37)}${'😀'.repeat(10)}` });
      mock.timers.tick(100);
      view.stop();
      // Our own cursor movement aside, every line fits in 40 columns (the last one is kept free).
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing our own sequences is the point
      const lines = out.replace(/\x1b\[\d+F\x1b\[J/g, '').split('\n');
      assert.ok(
        lines.some((l) => l.includes('▸ #3')),
        `the agents were drawn: ${out}`,
      );
      for (const line of lines) {
        assert.equal(printed(line), line, `a character split: ${JSON.stringify(line)}`);
        assert.ok(displayWidth(line) <= 40, `${displayWidth(line)} columns: ${line}`);
      }
    } finally {
      mock.timers.reset();
    }
  });
});
