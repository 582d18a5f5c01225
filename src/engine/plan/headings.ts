// What a plan's heading says its section is: work to do (a phase, a step list) or not (context,
// out of scope, risks, ...). The words are those of the plans Claude Code plan commands, plan-mode
// plugins and PRD templates write; docs/plans.md lists them.

/** A heading's words alone: no markup, numbering, emoji, trailing colon or "(optional)". */
export function headingWords(title: string): string {
  return title
    .replace(/[*_`]/g, '')
    .replace(/\{#[^{}]*\}/g, '')
    .replace(/\((?:optional|parallel|sequential)\)/gi, '')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/^[^\p{L}\p{N}]+/u, '')
    .replace(/^(?:\d+[.)]|[ivx]+\.)\s+/i, '')
    .replace(/(?<![\s:.\u2013\u2014-])[\s:.\u2013\u2014-]+$/u, '')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

const NOT_WORK: [RegExp, string][] = [
  [/^(overview|summary|executive summary|introduction|tl;? ?dr|purpose|about)$/, 'an overview, not work'],
  [
    /^(context|background|current state( analysis)?|problem( statement)?|motivation|the problem|why|research findings|findings|key discoveries|existing code|current behaviou?r)$/,
    'context, not work',
  ],
  [
    /^(what we'?re not doing|what we are not doing|not doing|out of scope|out-of-scope|non-?goals|won'?t do|will not do|future work|future enhancements?|later|deferred|not in scope)$/,
    'out of scope',
  ],
  [/^(goals|objectives|desired end state|end state|outcome|expected outcome)$/, 'goals, not work'],
  [/^(risks?( and mitigations)?|risk assessment|mitigations|concerns|caveats)$/, 'risks, not work'],
  [/^(open questions|questions|unresolved questions|unknowns)$/, 'open questions, not work'],
  [/^(references?|resources|links|see also|related( work| issues| files)?|appendix|glossary)$/, 'references, not work'],
  [
    /^(files? to (create|modify|change|edit|touch|update)( ?(\/|and|or|&) ?(create|modify|change|edit|touch|update))*|files|affected files|files (changed|affected|touched)|file changes|critical files|key files)$/,
    'a list of files, not work',
  ],
  [
    /^(testing strategy|test strategy|testing approach|test approach|verification strategy)$/,
    'the testing strategy, not work',
  ],
  [
    /^(success criteria|acceptance criteria|definition of done|verification|how to verify)$/,
    'success criteria, not work',
  ],
  [
    /^(notes|implementation notes|additional notes|assumptions|constraints|alternatives( considered)?|design decisions|decisions|trade-?offs|performance considerations|security considerations|migration notes|rollback( plan)?|considerations|dependencies and constraints)$/,
    'notes, not work',
  ],
];

/** Why a section is not work, or undefined when it may be. */
export function notWork(title: string): string | undefined {
  const words = headingWords(title);
  for (const [pattern, reason] of NOT_WORK) if (pattern.test(words)) return reason;
  return undefined;
}

/** A phase heading: `Phase 1: Token bucket core`, `Step 2 - Wire it`, `Milestone 3`, `Stage 1.` */
export interface PhaseHeading {
  /** "Phase 1". */
  label: string;
  /** "Token bucket core", or undefined when the heading names only the phase. */
  name?: string;
}

const PHASE = /^(phase|step|milestone|stage)\s+(\d+(?:\.\d+)*[a-z]?|[ivx]+)\b\s*(?:[:.)\u2013\u2014-]+\s*(.*))?$/i;
const NAMED_PHASE = /^(phase|milestone|stage)\s*[:\u2013\u2014-]+\s*(.+)$/i;

export function phaseHeading(title: string): PhaseHeading | undefined {
  const text = title
    .replace(/\*\*|__/g, '')
    .replace(/\((?:parallel|sequential)\)/gi, '')
    .replace(/\{#[^{}]*\}/g, '')
    .replace(/^[^\p{L}\p{N}]+/u, '')
    .trim();
  const m = PHASE.exec(text);
  if (m) {
    const kind = (m[1] as string).charAt(0).toUpperCase() + (m[1] as string).slice(1).toLowerCase();
    const label = `${kind} ${m[2]}`;
    const name = (m[3] ?? '').trim().replace(/[:.]$/, '');
    return name === '' ? { label } : { label, name };
  }
  const named = NAMED_PHASE.exec(text);
  if (named) {
    const kind = (named[1] as string).charAt(0).toUpperCase() + (named[1] as string).slice(1).toLowerCase();
    return { label: kind, name: (named[2] as string).trim() };
  }
  return undefined;
}

const STEP_LIST =
  /^(implementation steps|steps|step-by-step( plan)?|tasks|task list|task breakdown|implementation tasks|todo|todos|to-?do( list)?|to do|work items|action items|work breakdown|implementation plan|implementation|plan|checklist)$/;

/** A heading over a list of steps: Implementation Steps, Tasks, Todo, Work Items, ... */
export function isStepListHeading(title: string): boolean {
  return STEP_LIST.test(headingWords(title));
}

/** An automated success-criteria heading or lead-in: "Automated Verification:", "Automated checks". */
export function isAutomatedChecks(text: string): boolean {
  return /^automated( verification| checks?| tests?| success criteria| criteria)?$/.test(headingWords(text));
}
