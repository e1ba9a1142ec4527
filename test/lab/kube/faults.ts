// The fault switch of the lab's API fault proxy (fault-proxy.ts): a file a test writes
// (DIR/faults.json, DIR being the cluster's state directory) that makes every API request through
// the proxy fail or hang for a while — a Kubernetes API that is
// overloaded, restarting, or behind a link that stopped carrying packets. The file is read on every
// request (no watcher to miss a change); a missing file, or one whose window is over, means no fault.
//
//   {"status": 500, "untilMs": <epoch ms>}                  every request answers a 500 Status (InternalError)
//   {"delayMs": 60000, "untilMs": <epoch ms>}               every request is held 60 s before it is handled
//   {"status": 503, "delayMs": 2000, "untilMs": ..., "passRequests": 3}
//   {"dateOffsetSeconds": 200, "untilMs": <epoch ms>}       every answer's Date header says 200 s later
//
// status: 429 or 500-599, answered as the Status object kube-apiserver writes for it
// (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/).
// delayMs: the request is held that long first; a client that gives up meanwhile (its timeout)
// closes the connection and the request is dropped, never handled. Without status it is handled
// normally after the hold.
// dateOffsetSeconds: the request is handled normally, and the Date header of its answer is moved by
// that many seconds (negative: earlier) — an API server whose clock is that far off, which is all a
// client can see of its clock (https://www.rfc-editor.org/rfc/rfc9110#name-date).
// passRequests: that many requests are let through first (counted from when this content appeared).
// untilMs: required; requests arriving at or after it are served normally (the file may stay).
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const FAULTS_FILE_NAME = 'faults.json';

export interface FaultSetting {
  status?: number;
  delayMs?: number;
  dateOffsetSeconds?: number;
  untilMs: number;
  passRequests?: number;
}

/** The reason kube-apiserver gives with each status code (k8s.io/apimachinery/pkg/api/errors). */
const REASONS: Record<number, { reason: string; message: string }> = {
  429: { reason: 'TooManyRequests', message: 'Too many requests, please try again later.' },
  500: { reason: 'InternalError', message: 'Internal error occurred: fault injected by the lab (faults.json)' },
  503: { reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' },
  504: { reason: 'Timeout', message: 'the server was unable to return a response in the time allotted, but may still be processing the request' },
};

/** The v1 Status object kube-apiserver writes with a failure (reason, message, code). */
export function faultStatus(status: number): { kind: 'Status'; apiVersion: 'v1'; metadata: Record<string, never>; status: 'Failure'; message: string; reason: string; details: Record<string, never>; code: number } {
  const known = REASONS[status] ?? { reason: 'InternalError', message: `Internal error occurred: fault injected by the lab (faults.json, status ${status})` };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: known.message, reason: known.reason, details: {}, code: status };
}

/** The setting in `text`, or why it is not one (the server logs that and injects nothing). */
export function parseFaultSetting(text: string): FaultSetting | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not a JSON object' };
  const { status, delayMs, dateOffsetSeconds, untilMs, passRequests, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return { problem: `unknown field(s): ${unknown.join(', ')}` };
  const whole = (candidate: unknown): candidate is number => typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 0;
  if (!whole(untilMs)) return { problem: 'untilMs (epoch milliseconds) is required' };
  if (status !== undefined && !(whole(status) && (status === 429 || (status >= 500 && status <= 599)))) return { problem: 'status must be 429 or 500-599' };
  if (delayMs !== undefined && !whole(delayMs)) return { problem: 'delayMs must be a whole number of milliseconds' };
  if (passRequests !== undefined && !whole(passRequests)) return { problem: 'passRequests must be a whole number' };
  if (dateOffsetSeconds !== undefined && !(typeof dateOffsetSeconds === 'number' && Number.isInteger(dateOffsetSeconds))) return { problem: 'dateOffsetSeconds must be a whole number of seconds' };
  if (status === undefined && delayMs === undefined && dateOffsetSeconds === undefined) return { problem: 'none of status, delayMs, dateOffsetSeconds: nothing to inject' };
  return {
    untilMs,
    ...(status !== undefined ? { status } : {}),
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(dateOffsetSeconds !== undefined ? { dateOffsetSeconds } : {}),
    ...(passRequests !== undefined ? { passRequests } : {}),
  };
}

export class FaultSwitch {
  private lastText: string | undefined;
  private passed = 0;

  constructor(
    readonly file: string,
    private readonly log?: (line: string) => void,
  ) {}

  /** The fault for the request arriving now, if one is on. */
  async current(): Promise<FaultSetting | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      this.lastText = undefined;
      return undefined;
    }
    if (text !== this.lastText) {
      this.lastText = text;
      this.passed = 0;
    }
    const setting = parseFaultSetting(text);
    if ('problem' in setting) {
      this.log?.(`fault switch ${this.file} ignored: ${setting.problem}`);
      return undefined;
    }
    if (Date.now() >= setting.untilMs) return undefined;
    if (setting.passRequests !== undefined && this.passed < setting.passRequests) {
      this.passed++;
      return undefined;
    }
    return setting;
  }

  /**
   * Applies the fault on this request. Resolves true when the request was answered (or dropped),
   * false when it should now be handled normally (a hold without status).
   */
  async inject(setting: FaultSetting, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const what = `${request.method} ${request.url}`;
    if (setting.delayMs) {
      this.log?.(`${what} held ${setting.delayMs} ms (fault injected)`);
      const gone = await holdUnlessClosed(response, setting.delayMs);
      if (gone) {
        this.log?.(`${what} dropped: the client closed the connection while held (fault injected)`);
        return true;
      }
    }
    if (setting.status === undefined) return false;
    const failure = faultStatus(setting.status);
    this.log?.(`${what} -> ${setting.status} ${failure.reason} (fault injected)`);
    // The body is not read: let Node discard it so a keep-alive connection stays usable.
    request.resume();
    const text = JSON.stringify(failure);
    response.writeHead(setting.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
    return true;
  }
}

/** Waits `ms`; resolves true early if the connection closes first (the client gave up). */
function holdUnlessClosed(response: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      response.off('close', onClose);
      resolve(response.destroyed || response.socket?.destroyed === true);
    }, ms);
    response.once('close', onClose);
  });
}
