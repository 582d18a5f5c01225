// The small value syntaxes a markdown plan uses: durations, priorities, and keys made from subjects.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 8 * 3600, w: 5 * 8 * 3600 };

/**
 * "30m", "1h30m", "2h", "1.5h", "90s", "1d" (a working day, 8 h), "1w" (5 days); a bare number is
 * minutes. Returns seconds, or undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 60);
  if (!/^(\d+(\.\d+)?\s*[smhdw]\s*)+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)\s*([smhdw])/g)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
  }
  total = Math.round(total);
  return total > 0 ? total : undefined;
}

export const PRIORITY_WORDS: Record<string, number> = { low: -1, normal: 0, high: 1, urgent: 2, critical: 3 };

/** "high", "urgent", "2", "-1" -> an integer priority (higher runs first); undefined when not one. */
export function parsePriority(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (/^[+-]?\d+$/.test(s)) return Number(s);
  return PRIORITY_WORDS[s];
}

/** A key from a subject: "Design the REST API" -> "design-the-rest-api". Empty when nothing is left. */
export function slugify(subject: string): string {
  const slug = subject
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug.length <= 48) return slug;
  // Cut at a word boundary so keys stay readable.
  const cut = slug.slice(0, 48);
  const dash = cut.lastIndexOf('-');
  return dash > 20 ? cut.slice(0, dash) : cut;
}

/** Keys a user writes by hand: `{#api}`, `[api]`, `key: api`. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The candidate closest to `word` (case-insensitive edit distance), if any is close enough to suggest. */
export function closestMatch(word: string, candidates: string[]): string | undefined {
  const want = word.replace(/\s+/g, ' ').trim().toLowerCase();
  // A hint is for a typo in a key or a short subject; past 100 characters the edit distance (quadratic
  // in the length, once per candidate) would cost more than the plan's reading.
  if (want.length > 100) return undefined;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(want.length / 4)) + 1;
  for (const c of candidates) {
    const d = editDistance(want, c.replace(/\s+/g, ' ').trim().toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
