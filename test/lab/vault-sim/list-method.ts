// Vault clients send the non-standard HTTP method LIST (https://developer.hashicorp.com/vault/api-docs
// "LIST" in the overview), which Node's HTTP parser rejects with 400 before any handler runs.
// Connections therefore pass through this framing-aware rewriter: it finds each request line
// (following Content-Length and chunked bodies on keep-alive connections) and turns `LIST` into
// the same-length `LOCK`, which the handler maps back to LIST. Nothing else is altered.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export const REWRITTEN_LIST_METHOD = 'LOCK';
const HEADER_LIMIT = 1024 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

type State =
  | { kind: 'head' }
  | { kind: 'body'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'trailer' };

export class RequestLineRewriter {
  private state: State = { kind: 'head' };
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes from the client; returns the bytes to hand to the HTTP parser. */
  push(chunk: Buffer): Buffer {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const state = this.state;
      if (state.kind === 'head') {
        // Tolerate the empty lines RFC 9112 allows before a request line.
        while (this.pending.length >= 2 && this.pending[0] === 0x0d && this.pending[1] === 0x0a) {
          out.push(this.pending.subarray(0, 2));
          this.pending = this.pending.subarray(2);
        }
        const end = this.pending.indexOf(HEADER_END);
        if (end === -1) {
          if (this.pending.length > HEADER_LIMIT) {
            // Let the HTTP parser reject the oversized header itself.
            out.push(this.pending);
            this.pending = Buffer.alloc(0);
          }
          break;
        }
        const head = Buffer.from(this.pending.subarray(0, end + HEADER_END.length));
        this.pending = this.pending.subarray(end + HEADER_END.length);
        if (head.subarray(0, 5).toString('latin1') === 'LIST ') head.write(REWRITTEN_LIST_METHOD, 0, 'latin1');
        out.push(head);
        const headers = head.toString('latin1').toLowerCase();
        const length = /\r\ncontent-length:\s*(\d+)/.exec(headers);
        if (/\r\ntransfer-encoding:[^\r]*chunked/.test(headers)) this.state = { kind: 'chunk-size' };
        else if (length && Number(length[1]) > 0) this.state = { kind: 'body', remaining: Number(length[1]) };
        continue;
      }
      if (state.kind === 'body' || state.kind === 'chunk-data') {
        if (this.pending.length === 0) break;
        const take = Math.min(state.remaining, this.pending.length);
        out.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        state.remaining -= take;
        if (state.remaining === 0) this.state = state.kind === 'body' ? { kind: 'head' } : { kind: 'chunk-size' };
        continue;
      }
      // chunk-size and trailer lines
      const lineEnd = this.pending.indexOf(CRLF);
      if (lineEnd === -1) {
        if (this.pending.length > HEADER_LIMIT) {
          out.push(this.pending);
          this.pending = Buffer.alloc(0);
        }
        break;
      }
      const line = this.pending.subarray(0, lineEnd).toString('latin1');
      out.push(this.pending.subarray(0, lineEnd + 2));
      this.pending = this.pending.subarray(lineEnd + 2);
      if (state.kind === 'chunk-size') {
        const size = parseInt(line.split(';')[0]!.trim(), 16);
        // data plus its trailing CRLF; a zero-size chunk starts the trailer section
        this.state = Number.isNaN(size) ? { kind: 'head' } : size === 0 ? { kind: 'trailer' } : { kind: 'chunk-data', remaining: size + 2 };
      } else if (line === '') {
        this.state = { kind: 'head' };
      }
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** A socket stand-in handed to http.Server: reads pass through the rewriter, writes go straight out. */
export class ListMethodSocket extends Duplex {
  private readonly rewriter = new RequestLineRewriter();

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => {
      const rewritten = this.rewriter.push(chunk);
      if (rewritten.length && !this.push(rewritten)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (error) => this.destroy(error));
    socket.on('timeout', () => this.emit('timeout'));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get encrypted(): boolean {
    return 'encrypted' in this.socket;
  }

  setTimeout(milliseconds: number, callback?: () => void): this {
    this.socket.setTimeout(milliseconds, callback);
    return this;
  }
  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    callback(error);
  }
}
