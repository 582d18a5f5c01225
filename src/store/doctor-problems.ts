import type { MissingReference, OneSidedEdge } from '../model/index.js';
import type { DoctorProblem } from './types.js';

// The problems `doctor` reports, worded once for every store: each store finds them in its own
// data (model/edges.ts) and repairs them its own way.

/** A task's blocks or blockedBy names a task that does not exist. */
export function missingReferenceProblem(ref: MissingReference): DoctorProblem {
  return {
    kind: 'missing-reference',
    message: `#${ref.task}'s ${ref.field} names #${ref.missing}, which does not exist`,
    task: ref.task,
  };
}

/** An edge recorded on one task only: the problem, and the side that lacks it (`other`'s `field` lacks `holder`). */
export function oneSidedEdgeProblem(edge: OneSidedEdge): {
  problem: DoctorProblem;
  holder: string;
  other: string;
  field: 'blocks' | 'blockedBy';
} {
  const [holder, other, field] =
    edge.heldBy === 'blocker'
      ? [edge.blocker, edge.blocked, 'blockedBy' as const]
      : [edge.blocked, edge.blocker, 'blocks' as const];
  return {
    problem: {
      kind: 'one-sided-edge',
      message: `#${edge.blocker} blocks #${edge.blocked} according to #${holder} only: #${other}'s ${field} lacks #${holder}`,
      task: other,
    },
    holder,
    other,
    field,
  };
}

/** Tasks that block each other in a ring (never broken by doctor). */
export function cycleProblem(cycle: string[]): DoctorProblem {
  const last = cycle[cycle.length - 2] as string;
  const first = cycle[cycle.length - 1] as string;
  return {
    kind: 'cycle',
    message: `tasks block each other in a ring: ${cycle.map((id) => `#${id}`).join(' -> ')}; none of them can ever be ready`,
    task: cycle[0] as string,
    cycle,
    advice: `decide which dependency is wrong and remove it, e.g. tasklane dep rm ${last} ${first}`,
  };
}
