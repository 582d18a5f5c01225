// The one way Tasklane prints a duration: the live view, progress lines, the aggregated result,
// failure reasons, show, plan and watch all go through formatDuration, so a reader learns one
// format. Units are spaced and spelled as in prose; zero parts are left out. Import-free, so the
// standalone simulated agent can use it too.

/**
 * "0 ms", "850 ms", "1 s", "1.2 s", "42 s", "1 min 5 s", "2 min", "1 h 5 min", "26 h", "24 days",
 * "115 days 17 h". Under a second: whole milliseconds. Under 10 s: tenths (".0" dropped). Under a
 * minute: whole seconds. Under an hour: minutes and seconds. Under two days: hours and minutes.
 * From two days: days and hours. Each value is rounded once to the precision of its range, so
 * 59.7 s prints as "1 min", never "60 s".
 * Negative and non-finite values print as "0 ms".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0 ms';
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 100) return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return joinParts(Math.floor(s / 60), 'min', s % 60, 's');
  const min = Math.round(ms / 60_000);
  if (min < 48 * 60) return joinParts(Math.floor(min / 60), 'h', min % 60, 'min');
  const h = Math.round(ms / 3_600_000);
  return joinParts(Math.floor(h / 24), 'days', h % 24, 'h');
}

function joinParts(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`;
}

/** How long a completed task took: from its last claim (startedAt) to its completion, when both are recorded (tasklaneFields). */
export function tookMs(f: { startedAt?: string; completedAt?: string }): number | undefined {
  if (f.startedAt === undefined || f.completedAt === undefined) return undefined;
  const ms = Date.parse(f.completedAt) - Date.parse(f.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
