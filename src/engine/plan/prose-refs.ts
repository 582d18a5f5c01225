import { slugify } from './annotations.js';

// Dependencies written in words, as plans people and agents write them: "(depends on step 2)",
// "(after steps 1 and 3)", "once the schema is done", "blocked by the API", "requires phase 1",
// or a line "Depends on: Step 2". Every pattern here is anchored on a keyword and bounded, so
// reading a line costs time linear in its length.

/** One written dependency: what it names, and the clause as written (for notes and errors). */
export interface ProseRef {
  /** "step 2", "3", "the schema". */
  target: string;
  clause: string;
  line: number;
}

const KEYWORD = 'depends on|depending on|dependent on|blocked by|requires|required|needs|waits for|wait for|after|once';
const PAREN = new RegExp(String.raw`\(\s*(${KEYWORD})\b\s*:?\s*([^()]{0,400})\)`, 'gi');
const DONE_WORDS =
  'done|complete|completed|finished|ready|in place|merged|landed|available|built|written|working|there';
/** "once the schema is done": the words between "once" and "is done" (at most 12). */
const ONCE = new RegExp(
  String.raw`(^|[\s,;(])once\s+((?:[^\s,;.()]+\s+){0,11}?[^\s,;.()]+)\s+(?:is|are|has been|have been)\s+(?:${DONE_WORDS})\b[.,;]?`,
  'gi',
);
/** A clause at the end of the text, after a boundary: "— depends on step 2", "; requires the API". */
const TRAILING =
  /(?:^|[.;:]\s+|\s[-\u2013\u2014]+\s+|,\s+)(depends on|blocked by|requires|needs|waits for|after)\b\s*(:?)\s*/gi;
/** A line of its own: "Depends on: Step 2", "**Dependencies:** steps 1, 3", "- Blocked by: #4". */
const LINE =
  /^\s*(?:[-*+]\s+)?(?:\*\*|__)?(depends on|dependencies|dependency|blocked by|requires|prerequisites?|after|waits for)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*)$/i;

/** Written dependencies in an item's or heading's text; `text` is returned without the clauses. */
export function findProseRefs(text: string, line: number): { text: string; refs: ProseRef[] } {
  const refs: ProseRef[] = [];
  let rest = text.replace(PAREN, (whole, keyword: string, target: string) => {
    if (keyword.toLowerCase() === 'after' && !startsWithNumber(target)) return whole; // "(after lunch)"
    refs.push({ target: target.trim(), clause: whole.trim(), line });
    return ' ';
  });
  rest = rest.replace(ONCE, (whole, pre: string, target: string) => {
    refs.push({ target, clause: whole.trim(), line });
    return pre === '(' ? pre : ' ';
  });
  TRAILING.lastIndex = 0;
  for (;;) {
    const m = TRAILING.exec(rest);
    if (!m) break;
    const keyword = (m[1] as string).toLowerCase();
    const from = m.index + m[0].length;
    // Without a colon, "after" must name a number ("after step 2"): "after the meeting" is prose.
    // (Tested on the next few characters, so a line of many "after"s is read in linear time.)
    if (keyword === 'after' && m[2] !== ':' && !startsWithNumber(rest.slice(from, from + 40))) {
      TRAILING.lastIndex = from;
      continue;
    }
    const target = rest.slice(from).trim();
    if (target !== '') refs.push({ target: target.replace(/[.]$/, ''), clause: rest.slice(m.index).trim(), line });
    rest = rest.slice(0, m.index);
    break;
  }
  return { text: rest.replace(/\s+/g, ' ').trim(), refs };
}

/** A line that only states dependencies ("Depends on: Step 2"), or undefined. */
export function proseRefLine(text: string, line: number): ProseRef | undefined {
  const m = LINE.exec(text);
  if (!m) return undefined;
  // "Dependencies: add zod" lists packages, not work: these words count only before a number ("Phase 1") or "none".
  if (
    /^(dependenc|prerequisite)/i.test(m[1] as string) &&
    !startsWithNumber(m[2] as string) &&
    !/^none\b/i.test(m[2] as string)
  )
    return undefined;
  return { target: (m[2] as string).replace(/\*\*|__/g, '').trim(), clause: text.trim(), line };
}

function startsWithNumber(target: string): boolean {
  return /^\s*(?:the\s+)?(?:(?:steps?|phases?|milestones?|stages?|tasks?|items?)\s+)?#?\d/i.test(target);
}

const NUMBERED =
  /^(?:the\s+)?(?:(steps?|phases?|milestones?|stages?|tasks?|items?)\s+)?#?(\d+)((?:\s*(?:,|&|\band\b|\bor\b|-|\u2013|\bto\b|\bthrough\b)\s*(?:(?:steps?|phases?|milestones?|stages?|tasks?|items?)\s+)?#?\d+)*)\s*(?:(?:is|are|has been|have been)\s+\w+)?$/i;

/** What a target names: numbers ("steps 1 and 3", "2-4", "#5"), nothing ("none"), or words. */
export type Target = { numbers: number[] } | { none: true } | { words: string[] };

/** How many numbers above `highest` (which no step can have) a target returns: enough to name in an error. */
export const MAX_MISSING = 10;

/**
 * Each number once, in written order; a range ("2-4", at most 1,000 wide) gives every number in
 * it. Numbers above `highest` (the highest a step of the list has) are kept only up to
 * MAX_MISSING, so `depends on 1-1000, 1-1000, ...` costs the distinct numbers it names, not
 * 1,000 per range. Words are returned each once.
 */
export function parseTargets(target: string, highest = Number.MAX_SAFE_INTEGER): Target {
  const t = target
    .replace(/\*\*|__|`/g, '')
    .replace(/(?<![.!])[.!]+$/, '')
    .trim();
  if (/^(none|nothing|n\/a|-|no dependencies|independent)$/i.test(t)) return { none: true };
  const m = NUMBERED.exec(t);
  if (m) {
    const numbers: number[] = [];
    const seen = new Set<number>();
    let over = 0;
    const take = (k: number) => {
      if (seen.has(k)) return;
      if (k > highest) {
        if (over >= MAX_MISSING) return;
        over++;
      }
      seen.add(k);
      numbers.push(k);
    };
    // The next number not yet taken at or after k, so overlapping ranges skip what is taken (path-halved).
    const next = new Map<number, number>();
    const free = (k: number): number => {
      let j = k;
      for (let to = next.get(j); to !== undefined; to = next.get(j)) {
        const on = next.get(to);
        if (on !== undefined) next.set(j, on);
        j = to;
      }
      return j;
    };
    const tokens = t.matchAll(/(\d+)|(-|\u2013|\bto\b|\bthrough\b)/gi);
    let range = false;
    let last: number | undefined;
    for (const token of tokens) {
      if (token[2] !== undefined) {
        range = true;
        continue;
      }
      const n = Number(token[1]);
      if (range && last !== undefined && n > last && n - last <= 1000) {
        for (let k = free(last + 1); k <= Math.min(n, highest); k = free(k + 1)) {
          take(k);
          next.set(k, k + 1);
        }
        for (let k = Math.max(last + 1, highest + 1); k <= n && over < MAX_MISSING; k++) take(k);
      } else {
        take(n);
        if (n <= highest) next.set(n, n + 1);
      }
      last = n;
      range = false;
    }
    return { numbers };
  }
  const words = t
    .split(/,|;|\band\b|&/i)
    .map((w) => w.replace(/(?<!\s)\s+(?:is|are|has been|have been)\s+\w+$/i, '').trim())
    .filter((w) => w !== '');
  return { words: [...new Set(words)] };
}

/** Text quoted in a message, at most `max` characters: a long clause ends with an ellipsis. */
export function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max - 1).trimEnd()}\u2026`;
}

/** "a, b, c", or "a, b, c and 7 more" past `max` items. */
export function listOf(items: string[], max = MAX_MISSING): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

const STOP = new Set(['the', 'a', 'an', 'of', 'to', 'for', 'in', 'on', 'step', 'task', 'phase', 'work', 'is', 'are']);

export type WordMatch = { index: number } | { none: true } | { several: number[] };

/**
 * A matcher for phrases that name a candidate: by key, by subject, or by all of the phrase's
 * words appearing in one subject ("the schema" -> "Write the database schema"; a plural matches
 * its singular). Built once per list, indexed by word, so each phrase costs what its words do.
 */
export function wordMatcher(candidates: { key: string; subject: string }[]): (phrase: string) => WordMatch {
  const exact = new Map<string, number>();
  const byWord = new Map<string, number[]>();
  const wordsOf: Set<string>[] = [];
  candidates.forEach((c, i) => {
    for (const name of [c.key, slugify(c.subject)]) if (!exact.has(name)) exact.set(name, i);
    const own = new Set(words(c.subject));
    wordsOf.push(own);
    for (const w of own) {
      const list = byWord.get(w);
      if (list === undefined) byWord.set(w, [i]);
      else list.push(i);
    }
  });
  return (phrase) => {
    const hit = exact.get(phrase) ?? exact.get(slugify(phrase));
    if (hit !== undefined) return { index: hit };
    const want = [...new Set(words(phrase).filter((w) => !STOP.has(w)))];
    if (want.length === 0) return { none: true };
    // The candidates of the rarest word, checked for the others: as costly as that word is rare.
    const rarest = want.map((w) => byWord.get(w) ?? []).reduce((a, b) => (b.length < a.length ? b : a));
    const hits = rarest.filter((i) => want.every((w) => (wordsOf[i] as Set<string>).has(w)));
    if (hits.length === 1) return { index: hits[0] as number };
    return hits.length === 0 ? { none: true } : { several: hits };
  };
}

/** A phrase's words, lowercased, accents dropped, a plural "s" cut ("schemas" -> "schema"). */
function words(s: string): string[] {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}
