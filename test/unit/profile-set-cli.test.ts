/**
 * `profile set` headless, through the command line's own entry (source/cli.tsx run with tsx, so the
 * test needs no `npm run build`): a refused value exits 2 with the message and its fix on stderr and
 * writes nothing; a valid one exits 0.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { profileFile } from '../../source/profile/paths.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

let xdg: TempXdg;
beforeEach(() => {
  xdg = useTempXdg();
});
afterEach(() => xdg.restore());

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'source/cli.tsx', '--no-color', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, HOME: xdg.root, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('profile set vault.keyThreshold=1 headless', () => {
  it('exits 2 with what is wrong and how to fix it, and creates no profile; 1 of 1 is saved', { timeout: 60_000 }, async () => {
    const refused = await cli(['profile', 'set', 'vault.keyThreshold=1']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/^error: profile "default" was not changed/);
    expect(refused.stderr).toMatch(/- vault\.keyThreshold: a key threshold of 1 with 5 key shares lets any single key holder unseal alone/);
    expect(refused.stderr).toMatch(/set vault\.keyThreshold to at least 2 \(e\.g\. 3 of 5\), or vault\.keyShares to 1/);
    expect(existsSync(profileFile('default'))).toBe(false);

    const accepted = await cli(['profile', 'set', 'vault.keyShares=1', 'vault.keyThreshold=1']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(JSON.parse(readFileSync(profileFile('default'), 'utf8')).vault).toMatchObject({ keyShares: 1, keyThreshold: 1 });
  });
});
