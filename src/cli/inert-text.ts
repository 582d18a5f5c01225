// Task text and agent output are data, never terminal control. A subject holding `ESC ] 52;`
// would write the reader's clipboard, `ESC ] 0;` their window title, `ESC [2J` clear the screen,
// and a bidi override (U+202E) would make the text read differently from what it is. Everything
// a person sees passes through inert() first; JSON output keeps the exact text (jsonInert only
// spells the risky characters as \u escapes, which parse back to the same string).

/**
 * C0 controls, DEL, C1 controls (U+0080-009F: U+009B is a one-character CSI to some terminals),
 * the bidi marks, embeddings, overrides and isolates, and the Unicode line and paragraph separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `^[` for ESC, `^?` for DEL (caret notation, as `cat -v` shows them); `<U+202E>` for the rest. */
function visible(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return '^?';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/**
 * The text with every control character made visible. `multiline` keeps newlines and tabs (a
 * description, a result) and turns CRLF into a newline; otherwise they become spaces, for one line
 * of a table or a message. A lone carriage return is shown (`^M`): it would let text overwrite
 * what is before it on the line.
 */
export function inert(text: string, opts: { multiline?: boolean } = {}): string {
  const flat = opts.multiline === true ? text.replace(/\r\n/g, '\n') : text.replace(/[\r\n\t]+/g, ' ');
  return flat.replace(UNSAFE, (c) => (opts.multiline === true && (c === '\n' || c === '\t') ? c : visible(c)));
}

const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text whose strings spell DEL, C1 and bidi characters as \u escapes (JSON.stringify already
 * escapes C0), so JSON printed to a terminal is inert too while parsing back to the exact text.
 * These characters never occur in JSON outside strings, so replacing them everywhere is safe.
 */
export function jsonInert(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
