/**
 * A lock file holding the owner's pid, so two lab commands (two terminals, or a test run and a
 * manual `lab:up`) never build the cache or start an instance at the same time. A lock whose owner
 * is dead is stale and taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from './process.js';

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, what: string, timeoutMs: number, onWait?: (ownerPid: number) => void): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || !(await isAlive(owner))) {
      // Stale: its owner died without releasing it (or it was left half-written).
      await rm(path, { force: true });
      continue;
    }
    if (owner === process.pid) throw new Error(`${what}: this process already holds ${path}`);
    if (Date.now() >= deadline) throw new Error(`${what}: still locked by process ${owner} after ${Math.round(timeoutMs / 1000)}s (${path})`);
    if (!told) {
      onWait?.(owner);
      told = true;
    }
    await sleep(500);
  }
}
