// Server-side printing for custom resources: what the API server answers when kubectl asks for
// `application/json;as=Table;v=v1;g=meta.k8s.io`, built from the CRD's additionalPrinterColumns.
// With it `kubectl get clustersecretstore` shows ESO's STATUS/READY columns as on a real cluster.
// https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#additional-printer-columns
import type { Obj } from './fields.js';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/** True when the Accept header asks for a meta.k8s.io/v1 Table (kubectl get does). */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part) && /;\s*v=v1(?!beta)/.test(part));
}

/**
 * The JSONPath subset CRDs use for printer columns: `.a.b`, `.a[0]`, `.a[*].b` and the filter
 * `.a[?(@.type=="Ready")].b`. Returns every value found.
 */
export function evaluateJsonPath(object: unknown, path: string): unknown[] {
  const tokens = path.match(/\.[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let current: unknown[] = [object];
  for (const token of tokens) {
    const next: unknown[] = [];
    for (const value of current) {
      if (token.startsWith('.')) {
        if (value && typeof value === 'object' && !Array.isArray(value)) {
          const child = (value as Record<string, unknown>)[token.slice(1)];
          if (child !== undefined) next.push(child);
        }
        continue;
      }
      if (!Array.isArray(value)) continue;
      const inner = token.slice(1, -1);
      const filter = /^\?\(@\.([A-Za-z0-9_]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (inner === '*') next.push(...value);
      else if (filter) next.push(...value.filter((item) => item && typeof item === 'object' && String((item as Record<string, unknown>)[filter[1]!]) === filter[2]));
      else if (/^\d+$/.test(inner) && value[Number(inner)] !== undefined) next.push(value[Number(inner)]);
    }
    current = next;
  }
  return current;
}

/** How the API server prints an age: 45s, 12m, 3h, 5d. */
export function age(timestamp: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function cell(object: Obj, column: PrinterColumn): unknown {
  const values = evaluateJsonPath(object, column.jsonPath);
  if (values.length === 0) return null;
  if (column.type === 'date') return typeof values[0] === 'string' ? age(values[0]) : null;
  if (values.length === 1 && typeof values[0] !== 'object') return values[0];
  return values.map((value) => (typeof value === 'object' ? JSON.stringify(value) : String(value))).join(',');
}

/** A Table of `objects`: the Name column, then the CRD's columns (AGE last when the CRD names none). */
export function toTable(objects: Obj[], columns: PrinterColumn[], resourceVersion: string): Obj {
  const printed = columns.some((column) => column.jsonPath === '.metadata.creationTimestamp')
    ? columns
    : [...columns, { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
      ...printed.map((column) => ({ name: column.name, type: column.type === 'date' ? 'date' : column.type, format: column.format ?? '', description: column.description ?? '', priority: column.priority ?? 0 })),
    ],
    rows: objects.map((object) => ({
      cells: [object['metadata']['name'], ...printed.map((column) => cell(object, column))],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object['metadata'] },
    })),
  };
}
