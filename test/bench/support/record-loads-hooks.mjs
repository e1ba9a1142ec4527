// The hooks behind record-loads.mjs (they run on Node's loader thread, which sees process.env).
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  const file = process.env['PVT_RECORD_LOADS'];
  if (file) appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
