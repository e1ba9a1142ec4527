/**
 * host.tls against the lab host over real SSH (ssh2, as `pi` with sudo), driven by the real runner.
 * Uses its own config dir on the host (/etc/vault-tls-test) so it never meets the host-phase test's
 * /etc/vault on the shared lab, and its own XDG dirs here for custody.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redactor } from '../../source/core/redact.js';
import { runPlan, type PlanDoneEvent } from '../../source/core/runner.js';
import type { RunnerEvent, Step, StepContext } from '../../source/core/step.js';
import { custodyDir } from '../../source/profile/paths.js';
import { ProfileSchema, type Profile } from '../../source/profile/schema.js';
import { createTransport } from '../../source/services/host/factory.js';
import { sh } from '../../source/services/host/shell-quote.js';
import type { Transport } from '../../source/services/host/transport.js';
import { hostLayout } from '../../source/steps/host/layout.js';
import { createCertificateAuthority, signServerCertificate } from '../../source/services/tls.js';
import { tlsStep } from '../../source/steps/host/tls.js';
import { labDir, readLabState, type LabState } from '../lab/lab.js';
import { scriptedPrompter } from '../support/test-steps.js';
import { LabHostShell } from './support/host.js';

const CONFIG_DIR = '/etc/vault-tls-test';
const PROFILE_NAME = 'tls-e2e';

let lab: LabState;
let host: LabHostShell;
let transport: Transport;
let profile: Profile;
let xdgRoot: string;
let createdVaultUser = false;
const savedXdg = process.env['XDG_DATA_HOME'];

const layout = () => hostLayout(profile);

interface Run {
  done: PlanDoneEvent;
  events: RunnerEvent[];
  logText: string;
}

async function run(step: Step, options: { redactor?: Redactor; profileName?: string } = {}): Promise<Run> {
  const events: RunnerEvent[] = [];
  const mode = 'apply';
  const done = await runPlan(
    { steps: [step] },
    { profileName: options.profileName ?? PROFILE_NAME, profile, services: { host: async () => transport }, prompt: scriptedPrompter(), redactor: options.redactor ?? new Redactor() },
    { mode, onEvent: (event) => events.push(event) },
  );
  const logText = events
    .filter((event): event is Extract<RunnerEvent, { type: 'log' }> => event.type === 'log')
    .map((event) => event.line.text)
    .join('\n');
  return { done, events, logText };
}

function context(): StepContext {
  const noop = (): void => undefined;
  return {
    profileName: PROFILE_NAME,
    profile,
    log: { info: noop, warn: noop, error: noop, debug: noop },
    signal: new AbortController().signal,
    services: { host: async () => transport },
    prompt: scriptedPrompter(),
    registerSecret: noop,
    present: noop,
  };
}

function stepMs(result: Run): number | undefined {
  const event = result.events.find((candidate) => candidate.type === 'step-done');
  return event?.type === 'step-done' ? event.durationMs : undefined;
}

function outcome(result: Run): string | undefined {
  const event = result.events.find((candidate) => candidate.type === 'step-done' || candidate.type === 'step-failed');
  if (event?.type === 'step-done') return event.outcome;
  if (event?.type === 'step-failed') return `failed: ${event.message}`;
  return undefined;
}

async function hostFingerprint(file: string): Promise<string> {
  return (await host.sudo(sh`openssl x509 -in ${file} -noout -fingerprint -sha256`)).trim().replace(/^sha256 Fingerprint=/i, '');
}

beforeAll(async () => {
  lab = await readLabState(inject('labDir') ?? labDir());
  host = new LabHostShell(lab);
  xdgRoot = mkdtempSync(path.join(tmpdir(), 'pvt-host-tls-'));
  process.env['XDG_DATA_HOME'] = path.join(xdgRoot, 'data');
  const labProfile = JSON.parse(readFileSync(lab.profileFile, 'utf8')) as { host: Record<string, unknown>; vault: Record<string, unknown> };
  profile = ProfileSchema.parse({
    host: labProfile.host,
    vault: { ...labProfile.vault, configDir: CONFIG_DIR, tls: { extraSans: ['vault.lab.test'], validityDays: 400 } },
  });
  transport = await createTransport(profile.host, { knownHostsFile: lab.host.knownHostsFile });

  // What the account and directories steps make, if the host does not have it yet (the config tree root:vault).
  if ((await host.exec('getent passwd vault')).code !== 0) {
    await host.sudo('useradd --system --user-group --shell /usr/sbin/nologin vault');
    createdVaultUser = true;
  }
  await host.sudo(sh`rm -rf -- ${CONFIG_DIR} && install -d -o root -g vault -m 0750 -- ${CONFIG_DIR} ${`${CONFIG_DIR}/tls`}`);
});

afterAll(async () => {
  await transport?.close();
  if (host) {
    await host.sudo(sh`rm -rf -- ${CONFIG_DIR}`);
    // The lab is shared: remove the account only if this test made it and nothing else uses it now.
    if (createdVaultUser && !(await host.exists('/etc/vault')) && (await host.exec('pgrep -u vault')).code !== 0) {
      await host.sudo('userdel vault');
    }
  }
  if (savedXdg === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = savedXdg;
  if (xdgRoot) rmSync(xdgRoot, { recursive: true, force: true });
});

describe('host.tls, generate mode, on the lab host', () => {
  const step = tlsStep();

  it('describes the key command and the files it writes', () => {
    const planned = step.describe(context()).map((item) => item.summary);
    expect(planned).toContain(`umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -> ${CONFIG_DIR}/tls/vault.key; chown root:vault; chmod 0640 (unless a valid key is there)`);
    expect(planned.some((summary) => summary.startsWith(`${CONFIG_DIR}/tls/vault.crt (0644 root:vault; SANs:`) && summary.includes('vault.lab.test'))).toBe(true);
  });

  it('is todo on a host without certificate and CA', async () => {
    const check = await step.check(context());
    expect(check.state).toBe('todo');
    expect(check.detail).toContain('no CA in custody yet');
  });

  it('apply: a CA in custody, the key made on the host, a certificate openssl verifies there, right owners and modes', async () => {
    const result = await run(step);
    expect(outcome(result)).toBe('applied');
    expect(result.done.result).toBe('ok');
    console.log(`host.tls first apply (check, CA, key on host, CSR, sign, write, verify check): ${stepMs(result)} ms`);

    const entries = await host.list([layout().certFile, layout().keyFile, layout().caFile]);
    expect(entries.map(({ path: file, owner, group, mode }) => `${file} ${mode} ${owner}:${group}`)).toEqual([
      `${CONFIG_DIR}/tls/vault-ca.crt 644 root:vault`,
      `${CONFIG_DIR}/tls/vault.crt 644 root:vault`,
      `${CONFIG_DIR}/tls/vault.key 640 root:vault`,
    ]);
    expect((await host.sudo(sh`openssl verify -CAfile ${layout().caFile} ${layout().certFile}`)).trim()).toBe(`${layout().certFile}: OK`);
    const text = await host.sudo(sh`openssl x509 -in ${layout().certFile} -noout -text`);
    expect(text).toMatch(/IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:pi-lab, DNS:localhost, DNS:vault\.lab\.test/);
    expect(text).toContain('TLS Web Server Authentication');
    expect(text).toContain('ASN1 OID: prime256v1');
    // The key on the host belongs to the certificate.
    const keyPub = await host.sudo(sh`openssl pkey -in ${layout().keyFile} -pubout`);
    expect(await host.sudo(sh`openssl x509 -in ${layout().certFile} -noout -pubkey`)).toBe(keyPub);

    // Custody holds the CA (0600 in a 0700 dir), and nothing else: the server key never came here.
    const custody = custodyDir(PROFILE_NAME);
    expect(readdirSync(custody).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(statSync(custody).mode & 0o777).toBe(0o700);
    for (const name of ['ca.crt', 'ca.key']) expect(statSync(path.join(custody, name)).mode & 0o777).toBe(0o600);
    expect(await host.readFile(layout().caFile)).toBe(readFileSync(path.join(custody, 'ca.crt'), 'utf8'));

    // Expiry and fingerprint are logged; no private key is.
    expect(result.logText).toContain(`SHA-256 fingerprint ${await hostFingerprint(layout().certFile)}`);
    expect(result.logText).toMatch(/expires \d{4}-\d{2}-\d{2}T.* \((399|400) days\)/);
    expect(result.logText).not.toContain('PRIVATE KEY');
  });

  it('a second apply changes nothing (same files, same fingerprint)', async () => {
    const before = await host.list([layout().tlsDir]);
    const fingerprint = await hostFingerprint(layout().certFile);
    const result = await run(step);
    expect(outcome(result)).toBe('already-done');
    console.log(`host.tls second apply (one check, nothing written): ${stepMs(result)} ms`);
    expect(await host.list([layout().tlsDir])).toEqual(before);
    expect(await hostFingerprint(layout().certFile)).toBe(fingerprint);
    const check = await step.check(context());
    expect(check.state).toBe('done');
    expect(check.detail).toContain(`SHA-256 ${fingerprint}`);
  });

  it('a deleted certificate is todo, and apply restores it with the same CA and the same key', async () => {
    const custodyCa = readFileSync(path.join(custodyDir(PROFILE_NAME), 'ca.crt'), 'utf8');
    const sums = await host.sha256([layout().keyFile, layout().caFile]);
    await host.sudo(sh`rm -f -- ${layout().certFile}`);

    const check = await step.check(context());
    expect(check).toEqual({ state: 'todo', detail: `${layout().certFile} is missing` });

    const result = await run(step);
    expect(outcome(result)).toBe('applied');
    expect(result.logText).toContain('reusing the server key on the host');
    expect(result.logText).not.toContain('creating a CA');
    expect(readFileSync(path.join(custodyDir(PROFILE_NAME), 'ca.crt'), 'utf8')).toBe(custodyCa);
    expect(await host.sha256([layout().keyFile, layout().caFile])).toEqual(sums);
    expect((await host.sudo(sh`openssl verify -CAfile ${layout().caFile} ${layout().certFile}`)).trim()).toBe(`${layout().certFile}: OK`);
  });

  it('a key that does not match the certificate is drift; apply issues a certificate for the key on the host', async () => {
    await host.sudo(sh`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${layout().keyFile} && chown root:vault ${layout().keyFile} && chmod 0640 ${layout().keyFile}`);
    const check = await step.check(context());
    expect(check.state).toBe('drift');
    expect(check.detail).toBe(`${layout().keyFile} does not match ${layout().certFile} (different public keys)`);

    const result = await run(step);
    expect(outcome(result)).toBe('applied');
    const keyPub = await host.sudo(sh`openssl pkey -in ${layout().keyFile} -pubout`);
    expect(await host.sudo(sh`openssl x509 -in ${layout().certFile} -noout -pubkey`)).toBe(keyPub);
  });

  it('owner and mode drift is named precisely and fixed without touching the content', async () => {
    const sums = await host.sha256([layout().tlsDir]);
    await host.sudo(sh`chmod 0644 ${layout().keyFile} && chown root:root ${layout().certFile}`);
    const check = await step.check(context());
    expect(check.state).toBe('drift');
    expect(check.detail).toBe(`${layout().certFile} is 0644 root:root, want 0644 root:vault; ${layout().keyFile} is 0644 root:vault, want 0640 root:vault`);
    expect(outcome(await run(step))).toBe('applied');
    expect(await host.sha256([layout().tlsDir])).toEqual(sums);
    expect((await step.check(context())).state).toBe('done');
  });

  it('an encrypted key (unreadable for Vault) is drift; apply replaces it with a new key and certificate', async () => {
    await host.sudo(sh`openssl pkey -in ${layout().keyFile} -aes256 -passout pass:lab-only -out ${layout().keyFile}.enc && mv -f ${layout().keyFile}.enc ${layout().keyFile} && chown root:vault ${layout().keyFile} && chmod 0640 ${layout().keyFile}`);
    const check = await step.check(context());
    expect(check.state).toBe('drift');
    expect(check.detail).toMatch(new RegExp(`^${layout().keyFile} is not a readable private key \\(`));
    const result = await run(step);
    expect(outcome(result)).toBe('applied');
    expect(result.logText).toContain('making a new key');
    const keyPub = await host.sudo(sh`openssl pkey -in ${layout().keyFile} -pubout`);
    expect(await host.sudo(sh`openssl x509 -in ${layout().certFile} -noout -pubkey`)).toBe(keyPub);
  });

  it('a CA certificate in custody without its key stops the step; no new CA is made', async () => {
    const custody = custodyDir(PROFILE_NAME);
    const keyFile = path.join(custody, 'ca.key');
    const saved = readFileSync(keyFile);
    const caBefore = readFileSync(path.join(custody, 'ca.crt'), 'utf8');
    rmSync(keyFile);
    try {
      await host.sudo(sh`rm -f -- ${layout().certFile}`);
      const result = await run(step);
      expect(outcome(result)).toBe(`failed: the CA certificate ${path.join(custody, 'ca.crt')} is in custody but its key ${keyFile} is missing or unreadable`);
      expect(readdirSync(custody)).toEqual(['ca.crt']);
      expect(readFileSync(path.join(custody, 'ca.crt'), 'utf8')).toBe(caBefore);
      expect(await host.exists(layout().certFile)).toBe(false);
    } finally {
      writeFileSync(keyFile, saved, { mode: 0o600 });
    }
    expect(outcome(await run(step))).toBe('applied');
    expect(await host.readFile(layout().caFile)).toBe(caBefore);
  });
});

describe('host.tls, provided mode, on the lab host', () => {
  const step = tlsStep();
  let files: { cert: string; key: string; ca: string };
  let keyPem: string;
  let generateProfile: Profile;

  beforeAll(async () => {
    generateProfile = profile;
    // A set like certbot's, made here: the user's key, a certificate for 127.0.0.1, and its CA.
    const dir = path.join(xdgRoot, 'provided');
    execFileSync('mkdir', ['-p', dir]);
    files = { cert: path.join(dir, 'fullchain.pem'), key: path.join(dir, 'privkey.pem'), ca: path.join(dir, 'chain.pem') };
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', files.key]);
    keyPem = readFileSync(files.key, 'utf8');
    const csrPem = execFileSync('openssl', ['req', '-new', '-key', files.key, '-subj', '/CN=user-cert'], { encoding: 'utf8' });
    const ca = await createCertificateAuthority({ profileName: 'someone-else' });
    const certPem = await signServerCertificate({ ca, csrPem, sans: { ips: ['127.0.0.1'], dns: ['vault.user.test'] }, commonName: 'vault.user.test', validityDays: 90 });
    writeFileSync(files.cert, certPem);
    writeFileSync(files.ca, ca.certPem);
    profile = ProfileSchema.parse({ ...generateProfile, vault: { ...generateProfile.vault, tls: { mode: 'provided', certFile: files.cert, keyFile: files.key, caFile: files.ca } } });
  });

  afterAll(() => {
    profile = generateProfile;
  });

  it('validates, uploads the three files with the right modes, and never logs the key', async () => {
    const redactor = new Redactor();
    const result = await run(step, { redactor });
    expect(outcome(result)).toBe('applied');
    expect(await host.readFile(layout().certFile)).toBe(readFileSync(files.cert, 'utf8'));
    expect(await host.readFile(layout().caFile)).toBe(readFileSync(files.ca, 'utf8'));
    expect(await host.readFile(layout().keyFile)).toBe(keyPem);
    const entries = await host.list([layout().certFile, layout().keyFile, layout().caFile]);
    expect(entries.map(({ mode, owner, group }) => `${mode} ${owner}:${group}`)).toEqual(['644 root:vault', '644 root:vault', '640 root:vault']);
    expect((await host.sudo(sh`openssl verify -CAfile ${layout().caFile} ${layout().certFile}`)).trim()).toBe(`${layout().certFile}: OK`);

    const keyLines = keyPem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
    for (const line of keyLines) {
      expect(result.logText).not.toContain(line);
      expect(redactor.redact(`x ${line} y`)).toBe('x ******** y');
    }
    expect(result.logText).not.toContain('PRIVATE KEY');
    expect(result.logText).toContain('uploading the private key');
    expect((await step.check(context())).state).toBe('done');
  });

  it('a provided set that does not cover the API address is refused before anything is uploaded', async () => {
    const sums = await host.sha256([layout().tlsDir]);
    const saved = profile;
    profile = ProfileSchema.parse({ ...saved, vault: { ...saved.vault, nodeIp: '10.0.0.99' } });
    try {
      const result = await run(step);
      expect(outcome(result)).toBe(`failed: ${files.cert} does not cover the API address 10.0.0.99 (its subjectAltNames: IP 127.0.0.1, DNS vault.user.test)`);
    } finally {
      profile = saved;
    }
    expect(await host.sha256([layout().tlsDir])).toEqual(sums);
  });

  it('a certificate on the host that differs from the provided one is drift', async () => {
    await host.sudo(sh`printf '%s' "$(cat ${layout().caFile})" > ${layout().certFile}`);
    const check = await step.check(context());
    expect(check.state).toBe('drift');
    expect(check.detail).toContain(`${layout().certFile} differs from the provided certificate`);
    expect(outcome(await run(step))).toBe('applied');
    expect(await host.readFile(layout().certFile)).toBe(readFileSync(files.cert, 'utf8'));
  });

  it('switching to generate mode with no CA in custody while the host holds a CA stops instead of making a new CA', async () => {
    const caOnHost = await host.readFile(layout().caFile);
    const saved = profile;
    profile = generateProfile;
    try {
      const result = await run(tlsStep(), { profileName: 'tls-e2e-empty' });
      expect(outcome(result)).toMatch(new RegExp(`^failed: ${layout().caFile} on the host holds a CA \\(SHA-256 [0-9A-F:]{95}\\) that is not in this profile's custody`));
      expect(await host.readFile(layout().caFile)).toBe(caOnHost);
      expect(existsSync(custodyDir('tls-e2e-empty'))).toBe(false);
    } finally {
      profile = saved;
    }
  });
});
