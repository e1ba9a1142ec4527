// Failure responses as the API server writes them: a v1 Status object with reason, details and code.
// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/
// https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind
import type { ResourceType } from './resources.js';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** "secrets" for the core group, "customresourcedefinitions.apiextensions.k8s.io" otherwise. */
export function qualifiedResource(type: Pick<ResourceType, 'group' | 'plural'>): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

function groupDetails(type: Pick<ResourceType, 'group' | 'plural'>, name?: string): Record<string, unknown> {
  return { ...(name !== undefined ? { name } : {}), ...(type.group ? { group: type.group } : {}), kind: type.plural };
}

export function notFound(type: Pick<ResourceType, 'group' | 'plural'>, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualifiedResource(type)} "${name}" not found`, groupDetails(type, name));
}

export function alreadyExists(type: Pick<ResourceType, 'group' | 'plural'>, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualifiedResource(type)} "${name}" already exists`, groupDetails(type, name));
}

export function conflict(type: Pick<ResourceType, 'group' | 'plural'>, name: string, why: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`, groupDetails(type, name));
}

/** 422 with one cause per field, formatted like apimachinery's field.ErrorList. */
export function invalid(type: Pick<ResourceType, 'group' | 'kind'>, name: string, causes: Required<StatusCause>[]): ApiError {
  const list = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const summary = list.length === 1 ? list[0]! : `[${list.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${type.kind}${type.group ? `.${type.group}` : ''} "${name}" is invalid: ${summary}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
    causes,
  });
}

export function invalidValue(field: string, value: unknown, detail: string): Required<StatusCause> {
  const shown = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${shown}: ${detail}`, field };
}

export function requiredValue(field: string, detail = ''): Required<StatusCause> {
  return { reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value', field };
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

export function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

export function unsupportedMediaType(accepted: string[]): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {});
}

export function forbidden(message: string, details: Record<string, unknown>): ApiError {
  return new ApiError(403, 'Forbidden', message, details);
}
