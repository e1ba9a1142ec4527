// Request/response shapes shared by the handlers, following Vault's HTTP API conventions:
// https://developer.hashicorp.com/vault/api-docs (errors as {"errors": [...]}, 204 for no data,
// the logical response envelope with request_id, lease_id, data, auth, ...).
import { randomUUID } from 'node:crypto';
import type { TokenEntry } from './state.js';

export type Operation = 'read' | 'list' | 'create' | 'update' | 'patch' | 'delete';

export interface VaultRequest {
  method: string;
  /** path after /v1/, without leading slash; list requests end with '/' as in Vault */
  path: string;
  query: URLSearchParams;
  operation: Operation;
  body: Record<string, unknown>;
  rawBody: Buffer;
  token: string | undefined;
  /** the authenticated caller, filled in by the ACL check */
  caller?: TokenEntry;
  remoteAddress: string;
}

export interface Reply {
  status: number;
  json?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
}

export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; ') || `HTTP ${status}`);
  }
}

/** What Vault answers for a failed ACL check (a go-multierror wrapping ErrPermissionDenied). */
export const PERMISSION_DENIED = '1 error occurred:\n\t* permission denied\n\n';

export function permissionDenied(): VaultHttpError {
  return new VaultHttpError(403, [PERMISSION_DENIED]);
}

/**
 * What Vault answers for a missing, unknown, expired or used-up token: the bare
 * logical.ErrPermissionDenied from the token check, not wrapped like an ACL refusal
 * (vault/request_handling.go CheckToken; seen from the real OpenBao 2.7.2).
 */
export function invalidToken(): VaultHttpError {
  return new VaultHttpError(403, ['permission denied']);
}

export function badRequest(message: string): VaultHttpError {
  return new VaultHttpError(400, [message]);
}

export function notFound(): VaultHttpError {
  return new VaultHttpError(404, []);
}

export const noContent: Reply = { status: 204 };

export interface EnvelopeOptions {
  auth?: unknown;
  warnings?: string[] | null;
  mountType?: string;
  status?: number;
  /** sys/ responses repeat the data keys at the top level for older clients */
  injectTopLevel?: boolean;
}

/** The logical response envelope Vault wraps every backend response in. */
export function envelope(data: unknown, options: EnvelopeOptions = {}): Reply {
  const body: Record<string, unknown> = {};
  if (options.injectTopLevel && data && typeof data === 'object') Object.assign(body, data);
  Object.assign(body, {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: data ?? null,
    wrap_info: null,
    warnings: options.warnings ?? null,
    auth: options.auth ?? null,
    mount_type: options.mountType ?? '',
  });
  return { status: options.status ?? 200, json: body };
}

/** Reads a string field, or throws the 400 a Vault field parser would. */
export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw badRequest(`error converting input ${JSON.stringify(value)} for field "${name}": expected string`);
}
