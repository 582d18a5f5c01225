import { register } from './registry.js';

// The command table. Keep one line per command, grouped by area; each imports lazily.

// core (issue 2)
register('init', 'Make a task list for this project (.tasklane/tasks here)', () => import('./commands/init.js'));
register('create', 'Add a task, with its blockers, priority and labels', () => import('./commands/create.js'));
register('show', 'Show one task in full', () => import('./commands/show.js'));
register('list', 'List tasks (open ones by default), with filters', () => import('./commands/list.js'));
register('ready', 'Tasks that can start now, best first', () => import('./commands/ready.js'));
register('blocked', 'Tasks waiting on others, with what they wait on', () => import('./commands/blocked.js'));
register('update', 'Edit a task: subject, status, owner, priority, labels', () => import('./commands/update.js'));
register('dep', 'Add or remove a dependency: dep add|rm BLOCKER BLOCKED', () => import('./commands/dep.js'));
register('claim', 'Take a task atomically: the best ready one, or the one named', () => import('./commands/claim.js'));
register('heartbeat', 'Renew the lease on a claimed task', () => import('./commands/heartbeat.js'));
register('release', 'Give a claimed task back, unfinished', () => import('./commands/release.js'));
register('done', 'Mark a task completed, with its result', () => import('./commands/done.js'));
register('fail', 'Mark a task failed, with the reason', () => import('./commands/fail.js'));
register('retry', 'Put a failed or stuck task back to ready', () => import('./commands/retry.js'));
register('delete', 'Delete a task and every reference to it', () => import('./commands/delete.js'));
register('history', "The list's change history, or one task's", () => import('./commands/history.js'));
register('restore', 'Bring back deleted or cleared tasks from the history', () => import('./commands/restore.js'));
register('stats', 'Counts by state, status and owner', () => import('./commands/stats.js'));
register('reap', 'Return tasks whose lease expired to ready', () => import('./commands/reap.js'));
register('doctor', "Check the list's integrity; --fix repairs what is safe", () => import('./commands/doctor.js'));
register('lists', 'The lists in the store, with counts and last change', () => import('./commands/lists.js'));
register(
  'export',
  'Write the whole list (tasks, history, id high-water mark) as JSON lines',
  () => import('./commands/export.js'),
);
register(
  'import',
  "Load a 'tasklane export', or Task Master, Backlog.md, Beads or Claude Code tasks (--from), into an empty list",
  () => import('./commands/import.js'),
);
register('demo', 'A short tour on a fresh example list', () => import('./commands/demo.js'));

// change feed and MCP (issue 3)
register('watch', "Stream the list's changes as they happen", () => import('./commands/watch.js'));
register('wait', 'Block until tasks complete or become ready, without polling', () => import('./commands/wait.js'));
register('mcp', 'Serve the list to any agent over MCP (stdio)', () => import('./commands/mcp.js'));

// executor (issue 4)
register(
  'plan',
  'Turn a plan (markdown, JSON or YAML) into tasks with dependencies',
  () => import('./commands/plan.js'),
);
register(
  'run',
  'Run the list with parallel agents until every task is done; print one aggregated result',
  () => import('./commands/run.js'),
);
register('results', "Print the last run's aggregated result again", () => import('./commands/results.js'));
register(
  'worker',
  'Claim and run ready tasks until stopped; start one per terminal or machine',
  () => import('./commands/worker.js'),
);
register(
  'worktree',
  "Remove the list's task worktrees left by run --worktree (worktree prune)",
  () => import('./commands/worktree.js'),
);

// board and HTTP API (issue 9)
register('board', 'Serve a live web board and JSON API over the store', () => import('./commands/board.js'));

// lists kept in git (issue 11)
register(
  'git',
  'Merge project task lists with git: git setup|check (and the merge-driver git runs)',
  () => import('./commands/git.js'),
);
