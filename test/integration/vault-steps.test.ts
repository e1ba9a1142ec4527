/**
 * The vault phase's steps through the real runner (runPlan) against the lab's Vault-compatible server
 * started here, with this machine as the host (LocalTransport; the profile's configDir points into a
 * temp dir, so the policy files land there). Custody lives in a temp XDG_DATA_HOME.
 * Proves: a fresh Vault initialized (custody 0600 first, keys shown once, no secret in any event),
 * unsealed, KV v2, policies, tokens and the self-test table; a second run changes nothing; drift in a
 * policy is found and restored; a sealed Vault is unsealed from custody; a custody file others can read
 * is refused; a Vault initialized elsewhere is refused and nothing is overwritten; typed keys with a
 * malformed and a wrong key; the pause-after-init hook leaves the keys in custody for the next run;
 * an expired token is reissued alone; revoking the root token at the end.
 * Vault API: https://developer.hashicorp.com/vault/api-docs (system/init, system/unseal, system/seal,
 * system/policies, auth/token, secret/kv/kv-v2).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor, REDACTED } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { Prompter, Reveal, RunnerEvent, Step } from '../../source/core/step.js';
import { custodyPath, writeCustody } from '../../source/profile/custody.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { LocalTransport } from '../../source/services/host/local.js';
import { vaultSteps } from '../../source/steps/vault/index.js';
import { renderPolicy } from '../../source/steps/vault/policies.js';
import { makeTlsMaterial, startVault, vaultRequest, writeVaultExecutable, type TlsMaterial, type VaultProcess } from '../lab/vault-sim/testing.js';

const STEP_IDS = ['vault.init', 'vault.unseal', 'vault.kv', 'vault.policies', 'vault.tokens', 'vault.selftest'];

let dir: string;
let executable: string;
let tls: TlsMaterial;
const vaults: VaultProcess[] = [];
const transport = new LocalTransport();
const savedXdg = process.env['XDG_DATA_HOME'];
const owner = { user: userInfo().username, group: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim() };

/** Records every secret registered, so the test can look for each one in everything the run emitted. */
class RecordingRedactor extends Redactor {
  readonly registered = new Set<string>();
  override register(value: string): void {
    this.registered.add(value);
    super.register(value);
  }
}

interface Asked {
  secrets: string[];
  confirms: string[];
  revealed: Reveal[];
}

function recordingPrompter(answers: { secret?: string[]; confirm?: boolean[] } = {}, hooks: { onReveal?: () => void } = {}): Prompter & { asked: Asked } {
  const secrets = [...(answers.secret ?? [])];
  const confirms = [...(answers.confirm ?? [])];
  const asked: Asked = { secrets: [], confirms: [], revealed: [] };
  return {
    asked,
    async confirm(question) {
      asked.confirms.push(question);
      const next = confirms.shift();
      if (next === undefined) throw new Error(`unexpected confirm: ${question}`);
      return next;
    },
    async secret(question) {
      asked.secrets.push(question);
      const next = secrets.shift();
      if (next === undefined) throw new Error(`unexpected secret prompt: ${question}`);
      return next;
    },
    async text(question) {
      throw new Error(`unexpected text prompt: ${question}`);
    },
    async revealOnce(reveal) {
      asked.revealed.push(reveal);
      hooks.onReveal?.();
    },
  };
}

interface Lab {
  name: string;
  vault: VaultProcess;
  profile: Profile;
  configDir: string;
}

async function newLab(name: string, vault: Record<string, unknown> = {}, serverEnv: Record<string, string> = {}): Promise<Lab> {
  const server = await startVault({ executable, dir: path.join(dir, name, 'server'), tls, env: serverEnv });
  vaults.push(server);
  const configDir = path.join(dir, name, 'etc-vault');
  await mkdir(path.join(configDir, 'policy'), { recursive: true });
  await writeCustody(name, 'ca.crt', tls.caPem);
  const profile = ProfileSchema.parse({ host: { transport: 'local' }, vault: { apiAddress: server.url, configDir, keyShares: 5, keyThreshold: 3, ...vault } });
  return { name, vault: server, profile, configDir };
}

interface Run {
  done: PlanDoneEvent;
  events: RunnerEvent[];
  redactor: RecordingRedactor;
  outcome(stepId: string): string | undefined;
  failure(stepId: string): { message: string; hint?: string } | undefined;
  logOf(stepId: string): string[];
  summary(): string;
}

/** The phase without vault.autounseal: it installs a systemd unit, which has no place on this machine. */
function stepsFor(lab: Lab, profile = lab.profile): Step[] {
  return vaultSteps(profile, { fileOwner: owner }).filter((step) => step.id !== 'vault.autounseal');
}

async function run(lab: Lab, options: { mode?: 'apply' | 'check'; prompt?: Prompter; steps?: Step[]; profile?: Profile; signal?: AbortSignal; onEvent?: (event: RunnerEvent) => void } = {}): Promise<Run> {
  const events: RunnerEvent[] = [];
  const redactor = new RecordingRedactor();
  const profile = options.profile ?? lab.profile;
  const done = await runPlan(
    { steps: options.steps ?? stepsFor(lab, profile) },
    { profile, profileName: lab.name, services: { host: async () => transport }, prompt: options.prompt ?? recordingPrompter(), redactor },
    {
      mode: options.mode ?? 'apply',
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(event);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  const logs = events.flatMap((event) => (event.type === 'log' ? [event.line] : []));
  return {
    done,
    events,
    redactor,
    outcome: (stepId) => events.flatMap((e) => (e.type === 'step-done' && e.stepId === stepId ? [e.outcome] : [])).at(-1),
    failure: (stepId) => events.flatMap((e) => (e.type === 'step-failed' && e.stepId === stepId ? [{ message: e.message, ...(e.hint ? { hint: e.hint } : {}) }] : [])).at(-1),
    logOf: (stepId) => logs.filter((line) => line.stepId === stepId).map((line) => line.text),
    summary: () =>
      events
        .filter((e) => e.type === 'step-done' || e.type === 'step-failed' || e.type === 'step-skipped')
        .map((e) => ('outcome' in e ? `${e.stepId}=${e.outcome}` : 'message' in e ? `${e.stepId} FAILED ${e.message}` : `${e.stepId} skipped`))
        .join('\n'),
  };
}

interface InitJson {
  version: number;
  vaultAddress: string;
  shares: number;
  threshold: number;
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

async function custodyJson<T>(profileName: string, name: string): Promise<T> {
  return JSON.parse(await readFile(custodyPath(profileName, name), 'utf8')) as T;
}

async function mode(file: string): Promise<string> {
  return ((await stat(file)).mode & 0o777).toString(8);
}

async function api(lab: Lab, request: { method?: string; path: string; token?: string; body?: unknown }) {
  return vaultRequest(lab.vault.url, tls.caPem, request);
}

/** Every secret value must be absent from everything the run emitted (logs, failures, tables). */
function expectNoSecretIn(run: Run, secrets: Iterable<string>): void {
  const emitted = JSON.stringify(run.events);
  for (const secret of secrets) expect(emitted.includes(secret), 'a secret reached an event').toBe(false);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vault-steps-'));
  process.env['XDG_DATA_HOME'] = path.join(dir, 'xdg-data');
  executable = await writeVaultExecutable(path.join(dir, 'bin'), '2.0.4');
  tls = await makeTlsMaterial(path.join(dir, 'tls'));
}, 120_000);

afterAll(async () => {
  await Promise.all(vaults.map((vault) => vault.stop()));
  await transport.close();
  if (savedXdg === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = savedXdg;
  await rm(dir, { recursive: true, force: true });
});

describe('vault steps on a fresh Vault, through the runner', () => {
  let lab: Lab;
  let init: InitJson;

  beforeAll(async () => {
    lab = await newLab('fresh');
  });

  it('initializes (custody 0600 before the one reveal), unseals, mounts KV v2, writes policies, issues tokens, passes the self-test; no secret in any event', { timeout: 60_000 }, async () => {
    const prompt = recordingPrompter();
    const begin = Date.now();
    const result = await run(lab, { prompt });
    console.log(`vault phase (without auto-unseal) on a fresh Vault: ${Date.now() - begin} ms`);
    expect(result.done.result, result.summary()).toBe('ok');
    expect(result.events.flatMap((e) => (e.type === 'step-start' ? [e.stepId] : []))).toEqual(STEP_IDS);
    for (const id of STEP_IDS) expect(result.outcome(id), id).toBe('applied');

    const initFile = custodyPath(lab.name, 'init.json');
    expect(await mode(initFile)).toBe('600');
    expect(await mode(path.dirname(initFile))).toBe('700');
    init = await custodyJson<InitJson>(lab.name, 'init.json');
    expect(init).toMatchObject({ version: 1, vaultAddress: lab.vault.url, shares: 5, threshold: 3 });
    expect(init.keys).toHaveLength(5);
    expect(init.keys_base64).toHaveLength(5);

    // Shown once each: the init answer and the tokens.
    expect(prompt.asked.revealed).toHaveLength(2);
    const [initReveal, tokensReveal] = prompt.asked.revealed as [Reveal, Reveal];
    expect(initReveal.lines).toEqual([...init.keys_base64.map((key, i) => `Unseal Key ${i + 1}: ${key}`), `Initial Root Token: ${init.root_token}`]);
    expect(initReveal.note).toContain(initFile);
    const tokens = await custodyJson<{ tokens: Record<string, { token: string; policies: string[] }> }>(lab.name, 'tokens.json');
    expect(await mode(custodyPath(lab.name, 'tokens.json'))).toBe('600');
    expect(tokens.tokens['readonly']!.policies).toEqual(['default', 'readonly']);
    expect(tokensReveal.lines).toEqual([`readonly  ${tokens.tokens['readonly']!.token}`, `readwrite ${tokens.tokens['readwrite']!.token}`]);
    expect(prompt.asked.secrets).toEqual([]);

    // Nothing secret anywhere, and no step even tried to print one (nothing needed masking).
    const secrets = [...init.keys, ...init.keys_base64, init.root_token, tokens.tokens['readonly']!.token, tokens.tokens['readwrite']!.token];
    for (const secret of secrets) expect(result.redactor.registered.has(secret)).toBe(true);
    expectNoSecretIn(result, result.redactor.registered);
    expect(JSON.stringify(result.events)).not.toContain(REDACTED);
    // The self-test value was registered too (random, so found through the redactor).
    expect(result.redactor.registered.size).toBeGreaterThan(secrets.length);

    const view = result.events.find((e) => e.type === 'step-view');
    expect(view).toMatchObject({ stepId: 'vault.selftest', view: { kind: 'table', title: 'Policy self-test', columns: ['token', 'action', 'expected', 'got', 'result'] } });
    const rows = view?.type === 'step-view' ? view.view.rows : [];
    expect(rows.map((row) => row.slice(0, 1).concat(row.slice(2)))).toEqual([
      ['readwrite', 'allowed', 'allowed', 'pass'],
      ['readwrite', 'allowed, same value', 'allowed, same value', 'pass'],
      ['readonly', 'allowed, same value', 'allowed, same value', 'pass'],
      ['readonly', 'denied (403)', 'denied (403)', 'pass'],
      ['readwrite', 'allowed', 'allowed', 'pass'],
    ]);
    // The test secret is gone with all its versions.
    expect((await api(lab, { path: 'secret/metadata/picluster-vault-tui/selftest', token: init.root_token })).status).toBe(404);

    // Vault state: unsealed, KV v2, both policies as rendered; files on the host 0640.
    expect((await api(lab, { path: 'sys/seal-status' })).json).toMatchObject({ initialized: true, sealed: false });
    expect((await api(lab, { path: 'sys/mounts', token: init.root_token })).json.data['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } });
    for (const name of ['readonly', 'readwrite'] as const) {
      expect((await api(lab, { path: `sys/policies/acl/${name}`, token: init.root_token })).json.data.policy).toBe(renderPolicy(name, 'secret'));
      const file = path.join(lab.configDir, 'policy', `${name}.hcl`);
      expect(await readFile(file, 'utf8')).toBe(renderPolicy(name, 'secret'));
      expect(await mode(file)).toBe('640');
    }
    expect(renderPolicy('readonly', 'secret')).toContain('path "secret/data/*" {\n  capabilities = ["read", "list"]\n}');
  });

  it('a second run changes nothing: every step already done, nothing asked or shown', { timeout: 30_000 }, async () => {
    const prompt = recordingPrompter();
    const result = await run(lab, { prompt });
    expect(result.done.result, result.summary()).toBe('ok');
    for (const id of STEP_IDS) expect(result.outcome(id), id).toBe('already-done');
    expect(prompt.asked).toEqual({ secrets: [], confirms: [], revealed: [] });
    expectNoSecretIn(result, result.redactor.registered);
  });

  it('a policy edited through the API and a policy file with a loose mode are drift, and are restored', { timeout: 30_000 }, async () => {
    const edited = 'path "secret/*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n';
    expect((await api(lab, { method: 'PUT', path: 'sys/policies/acl/readonly', token: init.root_token, body: { policy: edited } })).status).toBe(204);
    await chmod(path.join(lab.configDir, 'policy', 'readwrite.hcl'), 0o644);

    const check = await run(lab, { mode: 'check' });
    expect(check.done.result).toBe('drift');
    expect(check.done.checks['vault.policies']).toEqual({
      state: 'drift',
      detail: `policy readonly in Vault differs from the template; ${path.join(lab.configDir, 'policy', 'readwrite.hcl')}: mode 0644, want 0640`,
    });
    // The self-test passed with other policy texts: not done until the policies are back (or re-tested).
    expect(check.done.checks['vault.selftest']?.detail).toMatch(/^the policies changed since the self-test passed \(/);

    const fix = await run(lab);
    expect(fix.done.result, fix.summary()).toBe('ok');
    expect(fix.outcome('vault.policies')).toBe('applied');
    // Restored to the very texts the self-test passed with.
    expect(fix.outcome('vault.selftest')).toBe('already-done');
    expect(fix.logOf('vault.policies')).toContain('policy readonly in Vault differs from the template: rewriting it');
    expect((await api(lab, { path: 'sys/policies/acl/readonly', token: init.root_token })).json.data.policy).toBe(renderPolicy('readonly', 'secret'));
    expect(await mode(path.join(lab.configDir, 'policy', 'readwrite.hcl'))).toBe('640');
  });

  it('a sealed Vault is unsealed from custody with exactly threshold keys', { timeout: 30_000 }, async () => {
    expect((await api(lab, { method: 'PUT', path: 'sys/seal', token: init.root_token })).status).toBe(204);
    const result = await run(lab);
    expect(result.done.result, result.summary()).toBe('ok');
    expect(result.outcome('vault.unseal')).toBe('applied');
    expect(result.logOf('vault.unseal')).toContain(`Vault unsealed with 3 of 5 keys from ${custodyPath(lab.name, 'init.json')}`);
    expect((await api(lab, { path: 'sys/seal-status' })).json.sealed).toBe(false);
  });

  it('a custody file others can read is refused with a clear message, and left as it is', { timeout: 30_000 }, async () => {
    const file = custodyPath(lab.name, 'init.json');
    const before = await readFile(file, 'utf8');
    await chmod(file, 0o644);
    try {
      const result = await run(lab);
      expect(result.done.result).toBe('failed');
      expect(result.failure('vault.init')).toEqual({ message: `${file} has mode 0644: others can read it`, hint: `check who could have read it, then: chmod 600 ${file}` });
      expect(await readFile(file, 'utf8')).toBe(before);
      expect(await mode(file)).toBe('644');
    } finally {
      await chmod(file, 0o600);
    }
  });

  it('an expired or revoked token is todo, and only that one is issued again', { timeout: 30_000 }, async () => {
    const before = await custodyJson<{ tokens: Record<string, { token: string }> }>(lab.name, 'tokens.json');
    const revoked = await api(lab, { method: 'POST', path: 'auth/token/revoke', token: init.root_token, body: { token: before.tokens['readonly']!.token } });
    expect(revoked.status).toBe(204);
    const prompt = recordingPrompter();
    const result = await run(lab, { prompt });
    expect(result.done.result, result.summary()).toBe('ok');
    expect(result.events.find((e) => e.type === 'step-checked' && e.stepId === 'vault.tokens')).toMatchObject({
      check: { state: 'todo', detail: 'the readonly token in custody has expired or was revoked' },
    });
    const after = await custodyJson<{ tokens: Record<string, { token: string }> }>(lab.name, 'tokens.json');
    expect(after.tokens['readonly']!.token).not.toBe(before.tokens['readonly']!.token);
    expect(after.tokens['readwrite']!.token).toBe(before.tokens['readwrite']!.token);
    expect(prompt.asked.revealed.map((reveal) => reveal.lines)).toEqual([[`readonly  ${after.tokens['readonly']!.token}`]]);
  });

  it('revokes the root token at the end when asked; tokens survive it (orphans); later runs ask for a token', { timeout: 30_000 }, async () => {
    const profile = ProfileSchema.parse({ ...lab.profile, vault: { ...lab.profile.vault, revokeRootAtEnd: true } });
    const result = await run(lab, { profile });
    expect(result.done.result, result.summary()).toBe('ok');
    expect(result.outcome('vault.revoke-root')).toBe('applied');
    expect(result.logOf('vault.revoke-root').join('\n')).toMatch(/vault operator generate-root -init/);
    expect((await api(lab, { path: 'auth/token/lookup-self', token: init.root_token })).status).toBe(403);
    const tokens = await custodyJson<{ tokens: Record<string, { token: string }> }>(lab.name, 'tokens.json');
    expect((await api(lab, { path: 'auth/token/lookup-self', token: tokens.tokens['readwrite']!.token })).status).toBe(200);
    expect(await custodyJson<{ revokedAt: string }>(lab.name, 'root-token-revoked.json')).toMatchObject({ version: 1, vaultAddress: lab.vault.url });

    const later = await run(lab, { profile });
    expect(later.done.result).toBe('failed');
    expect(later.failure('vault.kv')?.message).toBe(`unexpected secret prompt: Vault token allowed to configure ${lab.vault.url} (the root token was revoked):`);
  });
});

describe('a Vault initialized elsewhere, and typed keys', () => {
  let lab: Lab;
  let keys: string[];

  beforeAll(async () => {
    lab = await newLab('elsewhere');
    const answer = await api(lab, { method: 'PUT', path: 'sys/init', body: { secret_shares: 5, secret_threshold: 3 } });
    keys = answer.json.keys as string[];
  });

  it('is never initialized again: the step fails saying so, and custody is not written', { timeout: 30_000 }, async () => {
    const result = await run(lab);
    expect(result.done.result).toBe('failed');
    const failure = result.failure('vault.init');
    expect(failure?.message).toBe(`Vault at ${lab.vault.url} was initialized elsewhere; this profile has no keys for it (no init.json in custody)`);
    expect(failure?.hint).toMatch(/never initialized again\. If you hold its unseal keys, type them: press u on the Setup screen/);
    await expect(stat(custodyPath(lab.name, 'init.json'))).rejects.toThrow(/ENOENT/);
    expect((await api(lab, { path: 'sys/seal-status' })).json).toMatchObject({ initialized: true, sealed: true, n: 5, t: 3 });
  });

  it('unseals with typed keys, k/t shown; a malformed key offers a reset, a wrong key says the keys were discarded', { timeout: 30_000 }, async () => {
    const wrong = Buffer.from(keys[0]!, 'hex');
    wrong[5] = wrong[5]! ^ 0xff;
    const prompt = recordingPrompter({ secret: [keys[0]!, 'abcd', keys[1]!, keys[2]!, wrong.toString('hex'), keys[2]!, keys[3]!, keys[4]!], confirm: [true] });
    const steps = stepsFor(lab).filter((step) => step.id === 'vault.unseal');
    const result = await run(lab, { prompt, steps });
    expect(result.done.result, result.summary()).toBe('ok');
    const ask = (k: number): string => `Unseal key ${k} of 3 for ${lab.vault.url}:`;
    // The question after a refusal says why (the log pane is hidden behind the key dialog).
    expect(prompt.asked.secrets).toEqual([
      ask(1),
      ask(2),
      `Vault refused that key (invalid key: key is shorter than minimum 16 bytes); progress stays 1/3. ${ask(1)}`,
      ask(2),
      ask(3),
      `Vault refused the keys (unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed): one of the 3 keys typed is wrong or belongs to another Vault. Progress is back to 0/3: type 3 keys again. ${ask(1)}`,
      ask(2),
      ask(3),
    ]);
    expect(prompt.asked.confirms).toEqual(['Discard the 1 key(s) accepted so far and start over?']);
    const log = result.logOf('vault.unseal');
    expect(log).toContain('no unseal keys in custody or on the host: type 3 of the 5 keys');
    expect(log).toContain('Vault refused that key (invalid key: key is shorter than minimum 16 bytes); progress stays 1/3');
    expect(log).toContain(
      'Vault refused the keys (unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed): one of the 3 keys typed is wrong or belongs to another Vault. Progress is back to 0/3: type 3 keys again.',
    );
    expect((await api(lab, { path: 'sys/seal-status' })).json.sealed).toBe(false);
    expectNoSecretIn(result, keys);
  });
});

describe('a fresh KV v2 mount still upgrading its storage (a slow SD card)', () => {
  it('the self-test right after the mount waits the 400 "Upgrading from non-versioned to versioned data" out instead of failing', { timeout: 60_000 }, async () => {
    const lab = await newLab('kv-upgrade', {}, { VAULT_SIM_KV_UPGRADE_MS: '1500' });
    const result = await run(lab);
    expect(result.done.result, result.summary()).toBe('ok');
    for (const id of STEP_IDS) expect(result.outcome(id), id).toBe('applied');
    // The window was real: a write sent at once after a new mount is refused with the kv plugin's text.
    const { root_token: token } = await custodyJson<InitJson>(lab.name, 'init.json');
    expect((await api(lab, { method: 'POST', path: 'sys/mounts/fresh', token, body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
    const refused = await api(lab, { method: 'POST', path: 'fresh/data/x', token, body: { data: { a: 1 } } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toContain('Upgrading from non-versioned to versioned data');
  });
});

/**
 * Custody that cannot take the init answer. Run as root (CI is), permissions stop nothing, so the
 * custody directory is a tiny tmpfs of its own: filled up, it is a full disk; and a directory put
 * where init.json goes while sys/init runs makes the write itself fail after Vault answered.
 */
describe.skipIf(process.getuid?.() !== 0)('custody that cannot take the keys', () => {
  let lab: Lab;
  let custody: string;

  beforeAll(async () => {
    lab = await newLab('custody-full');
    custody = path.dirname(custodyPath(lab.name, 'init.json'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', custody]);
    await writeCustody(lab.name, 'ca.crt', tls.caPem);
  });

  afterAll(() => {
    execFileSync('umount', [custody]);
  });

  it('a full custody disk: the init step stops before sys/init, saying so; the server stays uninitialized', { timeout: 60_000 }, async () => {
    // Fill the file system up to its last few KiB.
    execFileSync('sh', ['-c', `dd if=/dev/zero of=${custody}/filler bs=4k 2>/dev/null; true`]);
    const prompt = recordingPrompter();
    const result = await run(lab, { prompt });
    expect(result.done.result).toBe('failed');
    const failure = result.failure('vault.init');
    expect(failure?.message).toMatch(new RegExp(`^custody cannot keep init\\.json: a test write in ${custody.replaceAll('/', '\\/')} failed \\(ENOSPC\\)$`));
    expect(failure?.hint).toMatch(/^free some space on the disk that holds .*nothing was initialized$/);
    expect(prompt.asked.revealed).toEqual([]);
    const status = await api(lab, { path: 'sys/seal-status' });
    expect(status.json?.['initialized']).toBe(false);
    // Nothing of the probe is left behind.
    expect((await readdir(custody)).sort()).toEqual(['ca.crt', 'filler']);
    await rm(path.join(custody, 'filler'));
  });

  it('custody failing after init: the answer goes to a 0600 file beside it and is shown as the last copy; moved into place, the next run goes on', { timeout: 60_000 }, async () => {
    const prompt = recordingPrompter();
    const target = custodyPath(lab.name, 'init.json');
    const result = await run(lab, {
      prompt,
      onEvent: (event) => {
        // sys/init is under way (the server takes seconds to answer): something takes init.json's name.
        if (event.type === 'log' && event.line.text.startsWith('initializing ')) mkdirSync(target);
      },
    });
    expect(result.done.result).toBe('failed');
    const failure = result.failure('vault.init');
    expect(failure?.message).toMatch(/^Vault was initialized but its keys could not be written to custody \(.*already exists; custody files are never overwritten\)$/);
    const copy = /they are in (\S+): once custody is fixed, move it into place \(mv \S+ (\S+)\)/.exec(failure?.hint ?? '');
    expect(copy, failure?.hint).not.toBeNull();
    expect(copy![2]).toBe(target);
    expect(path.dirname(copy![1]!)).toBe(custody);
    expect(await mode(copy![1]!)).toBe('600');
    const saved = JSON.parse(await readFile(copy![1]!, 'utf8')) as InitJson;
    expect(saved.keys).toHaveLength(5);
    // Shown once as the last copy: the same keys, every share and the root token.
    expect(prompt.asked.revealed).toHaveLength(1);
    expect(prompt.asked.revealed[0]!.lastCopy).toBe(true);
    expect(prompt.asked.revealed[0]!.lines).toEqual([...saved.keys_base64.map((key, index) => `Unseal Key ${index + 1}: ${key}`), `Initial Root Token: ${saved.root_token}`]);
    expect((await api(lab, { path: 'sys/seal-status' })).json?.['initialized']).toBe(true);

    // As the hint says: custody fixed, the copy moved into place; the next run unseals with it.
    await rmdir(target);
    await rename(copy![1]!, target);
    const next = await run(lab);
    expect(next.done.result, next.summary()).toBe('ok');
    expect(next.outcome('vault.init')).toBe('already-done');
    expect(next.outcome('vault.unseal')).toBe('applied');
  });
});

describe('the pause-after-init test hook', () => {
  it('custody holds the keys while the process is stopped right after init; the next run unseals from it', { timeout: 60_000 }, async () => {
    const lab = await newLab('paused');
    const release = path.join(dir, 'paused', 'release');
    process.env['PICLUSTER_VAULT_TUI_TEST_PAUSE_AFTER_INIT'] = release;
    const controller = new AbortController();
    const prompt = recordingPrompter();
    try {
      const running = run(lab, { prompt, signal: controller.signal });
      const file = custodyPath(lab.name, 'init.json');
      const deadline = Date.now() + 20_000;
      while (!(await stat(file).catch(() => undefined))) {
        if (Date.now() > deadline) throw new Error('init.json never appeared');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await mode(file)).toBe('600');
      expect(prompt.asked.revealed).toEqual([]);
      // Stopped at the worst moment: Vault answered, nothing was shown.
      controller.abort();
      expect((await running).done.result).toBe('cancelled');
    } finally {
      delete process.env['PICLUSTER_VAULT_TUI_TEST_PAUSE_AFTER_INIT'];
    }
    await writeFile(release, '');
    const next = await run(lab);
    expect(next.done.result, next.summary()).toBe('ok');
    expect(next.outcome('vault.init')).toBe('already-done');
    expect(next.outcome('vault.unseal')).toBe('applied');
    expect((await api(lab, { path: 'sys/seal-status' })).json.sealed).toBe(false);
  });
});
