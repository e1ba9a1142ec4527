/**
 * LocalTransport against the real /bin/sh of this machine. Runs as root (CI does), because the
 * owner of written files is changed with chown.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAbortError, UserError } from '../../source/core/errors.js';
import { LocalTransport } from '../../source/services/host/local.js';
import { sh } from '../../source/services/host/shell-quote.js';
import { descendantsOf, requireRoot, waitUntil } from './sshd-fixture.js';

let dir: string;
const transport = new LocalTransport();

beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'pvt-local-'));
});

afterAll(async () => {
  await transport.close();
  rmSync(dir, { recursive: true, force: true });
});

/** pids of this test's processes running exactly `sleep <seconds>`. */
function sleeping(seconds: string): number[] {
  return descendantsOf(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\u0000${seconds}\u0000`;
    } catch {
      return false;
    }
  });
}

describe('LocalTransport.exec', () => {
  it('returns exit code, stdout and stderr', async () => {
    const result = await transport.exec('echo out; echo err >&2; exit 3');
    expect(result).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('streams lines as they are printed, before the command ends', async () => {
    const seen: { line: string; at: number }[] = [];
    const started = Date.now();
    const result = await transport.exec('echo first; sleep 0.4; printf "second\\nno newline"; echo warn >&2', {
      onStdoutLine: (line) => seen.push({ line, at: Date.now() - started }),
      onStderrLine: (line) => seen.push({ line: `stderr:${line}`, at: Date.now() - started }),
    });
    expect(result.code).toBe(0);
    expect(seen.map((entry) => entry.line).sort()).toEqual(['first', 'no newline', 'second', 'stderr:warn']);
    const first = seen.find((entry) => entry.line === 'first');
    const second = seen.find((entry) => entry.line === 'second');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(300);
  });

  it('feeds stdin to the command, and EOF when there is none', async () => {
    expect((await transport.exec('tr a-z A-Z', { stdin: 'secret value\n' })).stdout).toBe('SECRET VALUE\n');
    expect((await transport.exec('cat')).stdout).toBe('');
  });

  it('reports 128+N when the command is killed by signal N', async () => {
    expect((await transport.exec('kill -TERM $$')).code).toBe(143);
    expect((await transport.exec('kill -KILL $$')).code).toBe(137);
  });

  it('runs with sudo (root here: directly)', async () => {
    expect((await transport.exec('id -u', { sudo: true })).stdout.trim()).toBe('0');
  });

  it('cancels through AbortSignal and kills the whole process group', async () => {
    const controller = new AbortController();
    const running = transport.exec('sleep 4711 & sleep 4712; echo never');
    void running.catch(() => undefined);
    const aborted = transport.exec('sleep 4721 & sleep 4722; echo never', { signal: controller.signal });
    await waitUntil(() => sleeping('4722').length === 1, 5000, 'the command to start');
    const started = Date.now();
    controller.abort();
    await expect(aborted).rejects.toSatisfy(isAbortError);
    expect(Date.now() - started).toBeLessThan(1500);
    await waitUntil(() => sleeping('4721').length + sleeping('4722').length === 0, 3000, 'the cancelled processes to end');
    // The other command was not touched.
    expect(sleeping('4711')).toHaveLength(1);
    expect(sleeping('4712')).toHaveLength(1);
    await transport.close();
    await expect(running).resolves.toMatchObject({ code: 143 });
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(transport.exec('echo hi', { signal: controller.signal })).rejects.toSatisfy(isAbortError);
  });

  it('stops a command that exceeds timeoutMs with a UserError naming it', async () => {
    const error = await transport.exec('sleep 4731', { timeoutMs: 300 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain('sleep 4731');
    await waitUntil(() => sleeping('4731').length === 0, 3000, 'the timed-out process to end');
  });
});

describe('LocalTransport files', () => {
  it('writes atomically with mode and owner, and reads back', async () => {
    const path = join(dir, "conf dir/it's vault.hcl");
    mkdirSync(join(dir, 'conf dir'));
    await transport.writeFile(path, 'ui = true\n', { mode: 0o640, owner: 'nobody', group: 'nogroup' });
    const info = statSync(path);
    expect(info.mode & 0o7777).toBe(0o640);
    expect(info.uid).toBe(Number(readFileSync('/etc/passwd', 'utf8').match(/^nobody:[^:]*:(\d+):/m)?.[1]));
    expect(readFileSync(path, 'utf8')).toBe('ui = true\n');
    expect((await transport.readFile(path)).toString()).toBe('ui = true\n');
    expect(await transport.stat(path)).toEqual({
      exists: true,
      type: 'file',
      mode: 0o640,
      uid: info.uid,
      gid: info.gid,
      owner: 'nobody',
      group: 'nogroup',
      size: 10,
    });
    // No temp file is left behind.
    expect(readdirSync(join(dir, 'conf dir'))).toEqual(["it's vault.hcl"]);
  });

  it('round-trips binary data, empty files and a sudo write', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    await transport.writeFile(join(dir, 'bin'), bytes, { mode: 0o600, sudo: true });
    expect((await transport.readFile(join(dir, 'bin'), { sudo: true })).equals(bytes)).toBe(true);
    await transport.writeFile(join(dir, 'empty'), '', { mode: 0o644 });
    expect(await transport.stat(join(dir, 'empty'))).toMatchObject({ exists: true, type: 'file', size: 0 });
  });

  it('never shows a half-written file to a concurrent reader', async () => {
    const path = join(dir, 'swapped');
    const contents = ['a', 'b'].map((letter) => letter.repeat(512 * 1024));
    await transport.writeFile(path, contents[0]!, { mode: 0o644 });
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const text = readFileSync(path, 'utf8');
        expect(contents).toContain(text);
        reads += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (let round = 1; round <= 12; round += 1) await transport.writeFile(path, contents[round % 2]!, { mode: 0o644 });
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(5);
  });

  it('reports a missing file: readFile rejects with a UserError, stat says it does not exist', async () => {
    const missing = join(dir, 'nope', 'missing.txt');
    await expect(transport.readFile(missing)).rejects.toThrow(UserError);
    await expect(transport.readFile(missing)).rejects.toThrow(/does not exist/);
    expect(await transport.stat(missing)).toEqual({ exists: false });
  });

  it('stats directories and symlinks without following them', async () => {
    mkdirSync(join(dir, 'sub'), { mode: 0o750 });
    symlinkSync(join(dir, 'sub'), join(dir, 'link'));
    expect(await transport.stat(join(dir, 'sub'))).toMatchObject({ exists: true, type: 'directory', mode: 0o750, owner: 'root' });
    expect(await transport.stat(join(dir, 'link'))).toMatchObject({ exists: true, type: 'symlink' });
  });

  it('refuses to write over a directory, and cleans up its temp file when chown fails', async () => {
    mkdirSync(join(dir, 'target-dir'));
    await expect(transport.writeFile(join(dir, 'target-dir'), 'x', { mode: 0o644 })).rejects.toThrow(/is a directory/);
    mkdirSync(join(dir, 'clean'));
    await expect(
      transport.writeFile(join(dir, 'clean', 'f'), 'x', { mode: 0o644, owner: 'no-such-user-pvt' }),
    ).rejects.toThrow(UserError);
    expect(readdirSync(join(dir, 'clean'))).toEqual([]);
  });

  it('keeps hostile file names literal', async () => {
    const hostile = join(dir, '$(touch pwned); `id` & x');
    await transport.writeFile(hostile, 'ok', { mode: 0o600 });
    expect(readFileSync(hostile, 'utf8')).toBe('ok');
    expect((await transport.exec(sh`ls -A -- ${dir}`)).stdout).not.toMatch(/^pwned$/m);
  });
});

describe('createTransport', () => {
  it('builds a LocalTransport for transport=local without loading ssh2; ssh2 loads on the first SSH call', () => {
    const factory = pathToFileURL(resolve('source/services/host/factory.ts')).href;
    const script = `
      import { createRequire } from 'node:module';
      import { createTransport } from ${JSON.stringify(factory)};
      const cache = createRequire(import.meta.url).cache;
      const ssh2Loaded = () => Object.keys(cache).some((file) => file.includes('/node_modules/ssh2/'));
      const host = { transport: 'local', address: '127.0.0.1', port: 1, user: 'pi', auth: 'agent' };
      const local = await createTransport(host);
      const afterLocal = [local.kind, ssh2Loaded()];
      const ssh = await createTransport({ ...host, transport: 'ssh' });
      const afterSshCreated = [ssh.kind, ssh2Loaded()];
      await ssh.exec('true').catch(() => undefined);
      console.log(JSON.stringify([afterLocal, afterSshCreated, ssh2Loaded()]));
    `;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, SSH_AUTH_SOCK: '/nonexistent' },
    });
    expect(JSON.parse(output)).toEqual([['local', false], ['ssh', false], true]);
  });
});
