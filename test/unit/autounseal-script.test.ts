// assets/vault-unseal.sh run for real (sh, jq, curl) against the lab's Vault simulator over TLS
// verified with a throwaway CA: both keys file shapes unseal, a wrong key, a missing or broken file,
// a foreign CA and an API that never comes up each end non-zero with a message, and while it runs
// no key ever shows in any process's command line or environment (/proc/*/cmdline, /proc/*/environ,
// `ps -eo args`) nor in what it prints.
// API: https://developer.hashicorp.com/vault/api-docs/system/unseal, .../system/health
import { waitForActive } from '../support/wait-active.js';
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUnsealScript, type UnsealScriptSettings } from '../../source/steps/vault/autounseal.js';
import { freePort, makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

let dir: string;
let tls: TlsMaterial;
let vault: VaultProcess;
let executable: string;
let init: { keys: string[]; keys_base64: string[]; root_token: string };
/** Every form of every key: none of them may ever be seen outside the keys file and the request body. */
let secrets: string[];
let fileCounter = 0;

const call = (options: Parameters<typeof vaultRequest>[2]) => vaultRequest(vault.url, tls.caPem, options);
const sealed = async (): Promise<boolean> => (await call({ path: 'sys/seal-status' })).json.sealed;

async function seal(): Promise<void> {
  const response = await call({ method: 'PUT', path: 'sys/seal', token: init.root_token });
  expect(response.status).toBe(204);
  expect(await sealed()).toBe(true);
}

async function keysFile(content: unknown, mode = 0o600): Promise<string> {
  const file = join(dir, `keys-${++fileCounter}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content), { mode });
  return file;
}

async function scriptFor(settings: Partial<UnsealScriptSettings> & { keysFile: string }): Promise<string> {
  const file = join(dir, `vault-unseal-${++fileCounter}.sh`);
  const full: UnsealScriptSettings = { serverName: 'Vault', apiPort: vault.port, caFile: tls.caFile, waitAttempts: 5, waitIntervalSeconds: 1, activeWaitSeconds: 10, ...settings };
  await writeFile(file, renderUnsealScript(full), { mode: 0o750 });
  return file;
}

interface Sampling {
  /** Samples taken (each a full pass over /proc). */
  passes: number;
  psSamples: number;
  /** Command lines of the script's helpers that were caught running (proof the samples saw them). */
  seen: Set<string>;
  /** Every place a secret was found: `pid 123 cmdline` etc. Must stay empty. */
  leaks: string[];
}

/** Reads every process's cmdline and environ every few ms, and `ps -eo args` every ~25 ms, until stopped. */
function sampleProcesses(searchFor: readonly string[]): { stop: () => Promise<Sampling> } {
  const result: Sampling = { passes: 0, psSamples: 0, seen: new Set(), leaks: [] };
  let running = true;
  const inspect = (where: string, text: string): void => {
    for (const secret of searchFor) if (text.includes(secret)) result.leaks.push(where);
  };
  const procLoop = (async () => {
    while (running) {
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replaceAll('\0', ' ');
          inspect(`pid ${entry} cmdline`, cmdline);
          inspect(`pid ${entry} environ`, readFileSync(`/proc/${entry}/environ`, 'latin1'));
        } catch {
          // The process ended between readdir and read: nothing left to leak.
        }
        if (/^(curl|jq) .*(sys\/unseal|--argjson index|sys\/health|seal-status)/.test(cmdline.replace(/^\S*\//, ''))) result.seen.add(cmdline.trim());
      }
      result.passes++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const psLoop = (async () => {
    while (running) {
      const out = await new Promise<string>((resolve) => execFile('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 }, (_error, stdout) => resolve(stdout ?? '')));
      inspect('ps -eo args', out);
      result.psSamples++;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await Promise.all([procLoop, psLoop]);
      return result;
    },
  };
}

interface ScriptRun {
  code: number | null;
  out: string;
  ms: number;
  sampling: Sampling;
}

/** Runs the script with sh, a bare environment, and the process sampler going. */
async function runScript(script: string, extraSecrets: readonly string[] = []): Promise<ScriptRun> {
  const sampler = sampleProcesses([...secrets, ...extraSecrets]);
  const begin = Date.now();
  const child = spawn('sh', [script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  const ms = Date.now() - begin;
  const sampling = await sampler.stop();
  for (const secret of [...secrets, ...extraSecrets]) expect(out.includes(secret), 'a key was printed').toBe(false);
  expect(sampling.leaks, 'a key was visible in a process list or environment').toEqual([]);
  return { code, out, ms, sampling };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-unseal-script-'));
  executable = await writeVaultExecutable(join(dir, 'bin'), '2.0.4');
  tls = await makeTlsMaterial(join(dir, 'tls'));
  // A standby period after each unseal long enough that the script surely meets it (the default
  // 300 ms could pass before its first sys/health on a loaded machine); the server is started with it.
  vault = await startVault({ executable, dir: join(dir, 'node'), tls, env: { VAULT_SIM_STANDBY_MS: '1500' } });
  init = (await call({ method: 'PUT', path: 'sys/init', body: { secret_shares: 5, secret_threshold: 3 } })).json;
  secrets = [...init.keys, ...init.keys_base64];
}, 60_000);

afterAll(async () => {
  await vault?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('vault-unseal.sh against a sealed Vault', () => {
  it('unseals with the documented shape {"keys": [hex], "threshold": t}: three keys, one at a time, nothing secret anywhere', { timeout: 60_000 }, async () => {
    expect(await sealed()).toBe(true);
    const script = await scriptFor({ keysFile: await keysFile({ keys: init.keys, threshold: 3 }) });
    const result = await runScript(script);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain('Vault is sealed (HTTP 503 from sys/health)');
    expect(result.out).toContain('read ' + join(dir, `keys-${fileCounter - 1}.json`) + ': 5 key(s), threshold 3');
    // Then it waits until the node is the active one (a raft node is a standby right after its unseal).
    expect(result.out).toMatch(
      /key 1 accepted \(progress 1\/3\)\nkey 2 accepted \(progress 2\/3\)\nVault is unsealed \(3 key\(s\) submitted\)\nVault is unsealed, waiting for leadership: a standby \(HTTP 429 from sys\/health\) until raft makes it the active node \(up to 10 s\)\nVault is the active node \(HTTP 200 from sys\/health\)\n$/,
    );
    expect(await sealed()).toBe(false);
    // Exit 0 means it serves: no waiting left for the caller.
    expect((await call({ path: 'sys/health' })).status).toBe(200);
    // The sampler did catch the script's helpers at work (so "no leak" means something).
    console.log(`unseal with 3 keys: ${result.ms} ms; /proc passes ${result.sampling.passes}, ps samples ${result.sampling.psSamples}, helpers caught: ${result.sampling.seen.size}`);
    expect(result.sampling.seen.size).toBeGreaterThan(0);
  });

  it('exits 0 without reading keys when Vault is already unsealed', { timeout: 30_000 }, async () => {
    const script = await scriptFor({ keysFile: join(dir, 'no-such-file.json') });
    const result = await runScript(script);
    expect(result.code, result.out).toBe(0);
    // 429 while the node that was just unsealed is still a standby: nothing to unseal, and the
    // script waits for it to be the active node before it exits 0.
    expect(result.out).toMatch(/Vault is already unsealed \(HTTP (200 from sys\/health\): nothing to do|429 from sys\/health\): nothing to unseal)/);
  });

  it('unseals with the CLI shape of `vault operator init -format=json` (unseal_keys_hex, unseal_threshold)', { timeout: 60_000 }, async () => {
    await seal();
    const cliShape = { unseal_keys_b64: init.keys_base64, unseal_keys_hex: init.keys, unseal_shares: 5, unseal_threshold: 3, recovery_keys_b64: [], root_token: init.root_token };
    const result = await runScript(await scriptFor({ keysFile: await keysFile(cliShape) }), [init.root_token]);
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain('5 key(s), threshold 3');
    expect(result.out).toContain('Vault is unsealed (3 key(s) submitted)');
    expect(await sealed()).toBe(false);
  });

  it('unseals with only unseal_keys_b64 (threshold from the file), base64 keys sent as they are', { timeout: 60_000 }, async () => {
    await seal();
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ unseal_keys_b64: init.keys_base64.slice(1, 4), unseal_threshold: 3 }) }));
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain('3 key(s), threshold 3');
    expect(result.out).toContain('Vault is unsealed (3 key(s) submitted)');
    expect(await sealed()).toBe(false);
  });

  it('resets a half-finished unseal before submitting its own keys', { timeout: 60_000 }, async () => {
    await seal();
    expect((await call({ method: 'PUT', path: 'sys/unseal', body: { key: init.keys[4] } })).json.progress).toBe(1);
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: init.keys.slice(0, 3), threshold: 3 }) }));
    expect(result.code, result.out).toBe(0);
    expect(result.out).toContain('an unseal attempt was in progress (1 key(s) given); resetting it');
    expect(result.out).toContain('Vault is unsealed (3 key(s) submitted)');
  });

  it('a node still a standby at the end of the wait for leadership: exit 1, saying so (bounded, never a hang)', { timeout: 60_000 }, async () => {
    await seal();
    // 1 s to become active against the simulator's 1.5 s standby.
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: init.keys, threshold: 3 }), activeWaitSeconds: 1 }));
    expect(result.code, result.out).toBe(1);
    expect(result.out).toContain('Vault is unsealed (3 key(s) submitted)');
    expect(result.out).toMatch(/error: Vault is unsealed but not the active node after 1 s \(last: HTTP 429 from sys\/health\); look for raft errors in the server's journal\n$/);
    await waitForActive(vault.url, tls.caPem);
  });
});

describe('vault-unseal.sh when it cannot unseal: non-zero exit and a message naming the problem', () => {
  beforeAll(async () => {
    if (!(await sealed())) await seal();
  });

  it('wrong keys: Vault rejects the set, the message quotes Vault but no key', { timeout: 60_000 }, async () => {
    const wrong = [0, 1, 2].map(() => randomBytes(33).toString('hex'));
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: wrong, threshold: 3 }) }), wrong);
    expect(result.code, result.out).toBe(1);
    // OpenBao 2.7.2's words (vault-sim follows them): "unable to retrieve stored keys: invalid key: ...".
    expect(result.out).toMatch(/error: Vault rejected key 3 of 3 \(HTTP 400\): (Unseal failed, |unable to retrieve stored keys: )?invalid key/);
    expect(await sealed()).toBe(true);
  });

  it('a key that is not a key at all (HTTP 400 on the first one)', { timeout: 60_000 }, async () => {
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: ['abcd'], threshold: 1 }) }), ['abcd']);
    expect(result.code, result.out).toBe(1);
    expect(result.out).toMatch(/error: Vault rejected key 1 of 1 \(HTTP 400\): invalid key: key is shorter than minimum/);
  });

  it('too few keys for the threshold: says so before sending any', { timeout: 30_000 }, async () => {
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: init.keys.slice(0, 2), threshold: 3 }) }));
    expect(result.code, result.out).toBe(1);
    expect(result.out).toMatch(/error: \S+ holds 2 key\(s\) but the threshold is 3: it cannot unseal Vault/);
    expect(await sealed()).toBe(true);
  });

  it('a missing keys file, a file that is not JSON, a file without keys', { timeout: 60_000 }, async () => {
    const missing = await runScript(await scriptFor({ keysFile: join(dir, 'absent.json') }));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/error: the keys file \S+absent\.json does not exist: Vault stays sealed/);

    const broken = await runScript(await scriptFor({ keysFile: await keysFile(`{"keys": ["${init.keys[0]}", `) }));
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/error: \S+ is not valid JSON\n$/);

    const empty = await runScript(await scriptFor({ keysFile: await keysFile({ keys: [], threshold: 1 }) }));
    expect(empty.code).toBe(1);
    expect(empty.out).toMatch(/error: \S+ has no key list/);
    expect(await sealed()).toBe(true);
  });

  it('warns about a keys file others can read, and still unseals', { timeout: 60_000 }, async () => {
    const result = await runScript(await scriptFor({ keysFile: await keysFile({ keys: init.keys, threshold: 3 }, 0o644) }));
    expect(result.code, result.out).toBe(0);
    expect(result.out).toMatch(/warning: \S+ has mode 644; it should be 600/);
    await seal();
  });

  it('a certificate our CA did not sign: stops at once (no retry loop, never --insecure)', { timeout: 30_000 }, async () => {
    const foreign = await makeTlsMaterial(join(dir, 'foreign-ca'));
    const result = await runScript(await scriptFor({ caFile: foreign.caFile, keysFile: await keysFile({ keys: init.keys, threshold: 3 }), waitAttempts: 30 }));
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/error: Vault's certificate is not trusted by \S+ca\.crt or does not name 127\.0\.0\.1 \(curl exit 60\)/);
    expect(result.ms).toBeLessThan(5_000);
    expect(await sealed()).toBe(true);
  });

  it('an API that never comes up: bounded wait (3 attempts, 1 s apart), then non-zero', { timeout: 30_000 }, async () => {
    const nothingThere = await freePort();
    const result = await runScript(await scriptFor({ apiPort: nothingThere, keysFile: await keysFile({ keys: init.keys, threshold: 3 }), waitAttempts: 3, waitIntervalSeconds: 1 }));
    console.log(`API down, 3 attempts 1 s apart: gave up after ${result.ms} ms`);
    expect(result.code).toBe(1);
    expect(result.out).toContain(`waiting for Vault at https://127.0.0.1:${nothingThere}/v1/sys/health (up to 3 attempts, 1 s apart)`);
    expect(result.out).toContain('Vault is not answering yet (attempt 1/3: connection refused (curl exit 7))');
    expect(result.out).toMatch(/error: Vault did not answer at \S+ after 3 attempts; last: connection refused \(curl exit 7\)\n$/);
    expect(result.ms).toBeGreaterThanOrEqual(2_000);
    expect(result.ms).toBeLessThan(10_000);
  });
});

describe('vault-unseal.sh against a Vault that is not initialized', () => {
  it('exits 0: nothing to unseal (HTTP 501)', { timeout: 60_000 }, async () => {
    const fresh = await startVault({ executable, dir: join(dir, 'fresh'), tls });
    try {
      const script = await scriptFor({ apiPort: fresh.port, keysFile: join(dir, 'no-such-file.json') });
      const result = await runScript(script);
      expect(result.code, result.out).toBe(0);
      expect(result.out).toContain('Vault is not initialized (HTTP 501 from sys/health): nothing to unseal');
    } finally {
      await fresh.stop();
    }
  });
});
