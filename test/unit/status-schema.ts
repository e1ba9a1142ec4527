// The documented JSON Schema of `status --json` (source/cli/status.schema.json), compiled with ajv
// (draft-07, strict, with the date-time format checked) for the status tests.
import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** ajv-formats is CommonJS: under ESM interop its function may arrive wrapped once more in `default`. */
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

export async function statusSchemaValidator(): Promise<ValidateFunction> {
  const schema = JSON.parse(await readFile(new URL('../../source/cli/status.schema.json', import.meta.url), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(schema);
}
