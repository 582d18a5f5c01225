import { slugify } from './annotations.js';
import type { PlanSpec } from './spec.js';

// What reading a plan found besides its graph: the shape it was read as, the sections it did not
// read and why, and what it could not decide (mixed shapes, a reference that names nothing).

/** How a markdown plan was read: docs/plans.md, "Shapes". */
export type PlanShape = 'phases' | 'steps' | 'todos' | 'items' | 'json' | 'yaml' | 'agent';
export const CHOSEN_SHAPES = ['phases', 'steps'] as const;
export type ChosenShape = (typeof CHOSEN_SHAPES)[number];

export interface SkippedSection {
  /** The heading as written. */
  heading: string;
  line: number;
  reason: string;
}

/** Something the reader would have had to guess; `plan` refuses to write until told how. */
export interface PlanAmbiguity {
  line?: number;
  message: string;
}

export interface PlanReading {
  spec: PlanSpec;
  shape: PlanShape;
  skipped: SkippedSection[];
  ambiguities: PlanAmbiguity[];
}

/** A key made from a subject, or an id or key as written when it is a valid key; unique within `taken` (-2, -3...). */
export function uniqueKey(from: string, taken: Set<string>, asWritten = false): string {
  const valid = asWritten && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(from) && from.length <= 100;
  const base = valid ? from : slugify(from) || 'task';
  let key = /^\d+$/.test(base) ? `task-${base}` : base;
  for (let k = 2; taken.has(key); k++) key = `${base}-${k}`;
  taken.add(key);
  return key;
}
