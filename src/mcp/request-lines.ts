import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';

// What stands between stdin and the SDK's stdio transport. The transport buffers a request line
// whole and, past its 10 MiB limit, closes itself without a word: a server alive and deaf, or gone.
// It also decodes bytes that are not UTF-8 into U+FFFD and stores that garbled text. Here each
// line is bounded and checked on its own: an over-long or non-UTF-8 line is dropped (its bytes
// are never buffered past the limit) and answered with a JSON-RPC error, and the next line is served.

/** The longest request line accepted: a 1 MiB description escaped into JSON fits many times over. */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export interface RefusedRequest {
  reason: 'too-long' | 'not-utf8';
  /** The request's id when it can be read from the line's start or end, so the client can match the answer. */
  id: string | number | null;
  bytes: number;
}

const KEEP = 256;

/** Passes whole request lines through; calls `onRefused` for each line it drops. */
export class RequestLines extends Transform {
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);

  constructor(
    private readonly max: number,
    private readonly onRefused: (refused: RefusedRequest) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      this.addToLine(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) break;
      this.endLine();
      start = nl + 1;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.size > 0) this.endLine();
    done();
  }

  private addToLine(piece: Buffer): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (!this.overflow && this.size <= this.max) {
      this.parts.push(piece);
      return;
    }
    if (!this.overflow) {
      // Keep only the ends (where the id is) and let the rest of the line go by.
      this.overflow = true;
      this.head = Buffer.concat([...this.parts, piece]).subarray(0, KEEP);
      this.parts = [];
    }
    this.tail = Buffer.concat([this.tail, piece]).subarray(-KEEP);
  }

  private endLine(): void {
    const line = Buffer.concat(this.parts);
    const bytes = this.size;
    if (this.overflow) {
      this.onRefused({ reason: 'too-long', id: requestId(this.head, this.tail), bytes });
    } else if (!isUtf8(line)) {
      this.onRefused({ reason: 'not-utf8', id: requestId(line.subarray(0, KEEP), line.subarray(-KEEP)), bytes });
    } else {
      this.push(Buffer.concat([line, Buffer.from('\n')]));
    }
    this.parts = [];
    this.size = 0;
    this.overflow = false;
    this.head = Buffer.alloc(0);
    this.tail = Buffer.alloc(0);
  }
}

const ID = String.raw`"id"\s*:\s*(-?\d{1,15}|"(?:[^"\\]|\\.){0,200}")`;
/** `{"jsonrpc":"2.0","id":7,...` (the id among the first keys) or `...,"id":7}` (the SDK puts it last). */
const ID_FIRST = new RegExp(String.raw`^\s*\{\s*(?:"(?:jsonrpc|method)"\s*:\s*"[^"\\]{0,100}"\s*,\s*){0,2}${ID}`);
const ID_LAST = new RegExp(String.raw`${ID}\s*\}\s*$`);

function requestId(head: Buffer, tail: Buffer): string | number | null {
  const m = ID_FIRST.exec(head.toString('utf8')) ?? ID_LAST.exec(tail.toString('utf8'));
  if (m === null) return null;
  try {
    return JSON.parse(m[1] as string) as string | number;
  } catch {
    return null;
  }
}

/** The JSON-RPC error answering a refused line. */
export function refusal(
  r: RefusedRequest,
  max: number,
): {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string };
} {
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return {
    jsonrpc: '2.0',
    id: r.id,
    error:
      r.reason === 'too-long'
        ? {
            code: -32600,
            message: `request refused: it is ${mib(r.bytes)}, over the ${mib(max)} limit of one request line; nothing was done`,
          }
        : { code: -32700, message: 'request refused: it is not valid UTF-8 text; nothing was done' },
  };
}
