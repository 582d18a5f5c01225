import { checkGitSetup, setupGit } from '../../engine/git-lists/setup.js';
import type { DoctorProblem } from '../../store/types.js';
import { context, locationOf } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { oneLine, printJson, println } from '../output.js';
import type { Command } from '../registry.js';

export const command: Command = {
  summary: "Check the list's integrity; --fix repairs what is safe",
  help: `Usage: tasklane doctor [--fix]

Checks the list for what a crash or another program can leave behind:
  invalid-file       a task file that is not a valid task (named, with the reason)
  missing-reference  a blocks/blockedBy entry naming a task that does not exist
  one-sided-edge     an edge written on one of its two tasks only (a crash between the writes)
  cycle              tasks that block each other in a ring (with the path)
  temp-file          a write's temp file (.<id>.json.tmp-PID-N) whose process is gone
  stale-lock         a lock whose Tasklane holder is gone, or with no live holder untouched 10 s
  git-driver         (a project list in a git clone) merges would not use Tasklane's merge
                     driver: no .tasklane/.gitattributes rule, or no merge.tasklane.driver in
                     this clone's config (fresh clones never have it); --fix runs git setup
  stale-index        (PostgreSQL) a row's derived columns (unfinished-blocker count, critical
                     path, edge rows) out of step with the tasks; --fix recomputes them

Cycle checks (dep add, create with blockers) count an edge written on either task, and refuse
to run while a task file is invalid. Readiness follows the blocked task's blockedBy alone, as
in Claude Code.

Options:
  --fix   Repair what is safe: write the missing side of one-sided edges (unless that would
          close a cycle, or an invalid file hides part of the list), remove references to
          missing tasks, remove dead temp files and stale locks, register the git merge
          driver (tasklane git setup). Invalid files are never
          rewritten and cycles never broken: the report says how to do it by hand.

Examples:
  tasklane doctor
  tasklane doctor --fix
  tasklane doctor --json | jq '.problems[] | select(.fixed == null)'

JSON (--json): {"list": ID, "location": DIR, "consistent": BOOL, "problems": [{"kind": KIND,
"message": TEXT, "task"?: ID, "file"?: PATH, "cycle"?: [ID, ...], "fixed"?: TEXT, "advice"?: TEXT}]}

Exit status: 0 when the list is consistent (nothing found, or everything found was fixed),
1 when problems remain.`,

  async run(io) {
    const ctx = context(io, 'doctor', { fix: { type: 'boolean' } });
    ctx.args.expectPositionals(0, 0, '');
    const store = ctx.store();
    const report = await store.doctor({ fix: ctx.args.flag('fix') });
    const where = locationOf(io, ctx.args.globals);
    if (where.projectDir !== undefined && where.database === undefined) {
      const git = checkGitSetup(where.projectDir, where.listDir);
      for (const message of git?.problems ?? []) {
        const problem: DoctorProblem = { kind: 'git-driver', message };
        if (ctx.args.flag('fix')) {
          const r = setupGit(where.projectDir);
          problem.fixed = `ran tasklane git setup (driver: ${r.driver})`;
        } else {
          problem.advice = 'tasklane git setup (or tasklane doctor --fix) registers it';
        }
        report.problems.push(problem);
      }
      report.consistent = report.problems.every((p) => p.fixed !== undefined);
    }
    const status = report.consistent ? EXIT.OK : EXIT.ERROR;
    if (ctx.json) {
      printJson(io, report);
      return status;
    }
    const p = ctx.p;
    const left = report.problems.filter((x) => x.fixed === undefined);
    const fixed = report.problems.length - left.length;
    if (report.problems.length === 0) {
      println(io, `List ${JSON.stringify(report.list)} is consistent (${oneLine(report.location)}).`);
      return status;
    }
    println(io, p.bold(`List ${JSON.stringify(report.list)} (${oneLine(report.location)}):`));
    for (const problem of report.problems) println(io, describe(problem, p.bold));
    const summary =
      left.length === 0
        ? `Fixed ${fixed} problem${fixed === 1 ? '' : 's'}; the list is consistent.`
        : `${left.length} problem${left.length === 1 ? '' : 's'} left${fixed > 0 ? ` (${fixed} fixed)` : ''}.`;
    println(io, summary);
    return status;
  },
};

function describe(problem: DoctorProblem, bold: (s: string) => string): string {
  const outcome = problem.fixed !== undefined ? `fixed: ${problem.fixed}` : `left: ${problem.advice ?? 'see above'}`;
  return `  ${bold(problem.kind)}  ${inert(problem.message)}\n    ${inert(outcome)}`;
}

/** File names and reasons come from the disk: show control characters, never send them to the terminal. */
function inert(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
