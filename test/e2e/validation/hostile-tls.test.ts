/**
 * Hostile certificates in `vault.tls.mode provided`: an expired certificate, a key that is not the
 * certificate's, a certificate the given CA did not sign, a certificate that does not name the node
 * IP. Made here with openssl (a CA, a second CA, keys, certificates with chosen dates and SANs).
 *
 * Each is given to `setup --yes --phase host` on a fresh lab host: refused at the TLS step before
 * anything is uploaded — exit 1, the message naming the file and what is wrong, a hint, no stack
 * trace, the profile's settings unchanged (setup records its progress and the failed run, by design),
 * and nothing in /etc/vault/tls on the host (no certificate, key, CA or temp file). And to `plan --phase host`: exit 1, the same message, profile file bytes
 * unchanged. A control: the same material with nothing wrong passes the TLS check (todo: upload).
 * Prints one JSON line: inputs tried and refused as expected.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PinnedCli } from '../faults/pinned-cli.js';
import { describeResult, type CliInfo, type CliSession, type PlanSummary, type SetupSummary } from '../support/cli.js';
import { FreshLabs, type FreshLab } from '../support/labs.js';

const run = promisify(execFile);
const TLS_DIR = '/etc/vault/tls';
const SETUP_HOST = ['setup', '--yes', '--json', '--phase', 'host'];
const PLAN_HOST = ['plan', '--json', '--phase', 'host'];

interface TlsCase {
  name: string;
  files: { cert: string; key: string; ca: string };
  message: (dir: string) => RegExp;
  hint: RegExp;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const CASES: TlsCase[] = [
  {
    name: 'an expired certificate',
    files: { cert: 'expired.crt', key: 'server.key', ca: 'ca.crt' },
    message: (dir) => new RegExp(`${escape(path.join(dir, 'expired.crt'))} expired on 2025-04-01T00:00:00\\.000Z`),
    hint: /renew the certificate/,
  },
  {
    name: 'a key that is not the certificate’s',
    files: { cert: 'server.crt', key: 'other.key', ca: 'ca.crt' },
    message: (dir) => new RegExp(`${escape(path.join(dir, 'other.key'))} does not match ${escape(path.join(dir, 'server.crt'))} \\(the key is not the certificate's private key\\)`),
    hint: /use the key file that was generated with this certificate/,
  },
  {
    name: 'a certificate not signed by the given CA',
    files: { cert: 'foreign.crt', key: 'server.key', ca: 'ca.crt' },
    message: (dir) => new RegExp(`${escape(path.join(dir, 'foreign.crt'))} was not issued by the CA in ${escape(path.join(dir, 'ca.crt'))} \\(the chain does not verify\\)`),
    hint: /give the CA \(or intermediate\) that signed the certificate/,
  },
  {
    name: 'a certificate without the node IP in its SANs',
    files: { cert: 'nosan.crt', key: 'server.key', ca: 'ca.crt' },
    message: (dir) => new RegExp(`${escape(path.join(dir, 'nosan.crt'))} does not cover the API address 127\\.0\\.0\\.1 \\(its subjectAltNames: IP 10\\.0\\.0\\.99, DNS vault\\.example\\.lan\\)`),
    hint: /use a certificate that names this address/,
  },
];

/**
 * The material, with `openssl ca` so dates can be set (OpenSSL 3.0's `x509 -req` cannot back-date):
 * ca (2024-2036), other-ca, server.key + server.crt (90 days, SAN IP:127.0.0.1 and localhost),
 * expired.crt (same key, Jan-Apr 2025), other.key, foreign.crt (other CA), nosan.crt (other SANs).
 * https://docs.openssl.org/3.0/man1/openssl-ca/
 */
async function makeMaterial(dir: string): Promise<void> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const newKey = (file: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
  for (const authority of ['ca', 'other-ca']) {
    await writeFile(path.join(dir, `${authority}.index`), '');
    await writeFile(path.join(dir, `${authority}.index.attr`), 'unique_subject = no\n');
    await writeFile(path.join(dir, `${authority}.serial`), '1000\n');
    await writeFile(
      path.join(dir, `${authority}.cnf`),
      [`[ca]`, `default_ca = this`, `[this]`, `database = ${authority}.index`, `new_certs_dir = .`, `serial = ${authority}.serial`, `default_md = sha256`, `policy = any`, `[any]`, `commonName = supplied`, ''].join('\n'),
    );
    await newKey(`${authority}.key`);
    await openssl('req', '-new', '-key', `${authority}.key`, '-subj', `/CN=hostile test ${authority}`, '-out', `${authority}.csr`);
    await writeFile(path.join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    await openssl('ca', '-batch', '-notext', '-config', `${authority}.cnf`, '-selfsign', '-keyfile', `${authority}.key`, '-in', `${authority}.csr`, '-out', `${authority}.crt`, '-startdate', '20240101000000Z', '-enddate', '20360101000000Z', '-extfile', 'ca.ext');
  }
  await newKey('server.key');
  await newKey('other.key');
  await openssl('req', '-new', '-key', 'server.key', '-subj', '/CN=vault', '-out', 'server.csr');
  await writeFile(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(path.join(dir, 'nosan.ext'), 'subjectAltName=IP:10.0.0.99,DNS:vault.example.lan\nextendedKeyUsage=serverAuth\n');
  const sign = (authority: string, out: string, ext: string, dates: string[]) =>
    openssl('ca', '-batch', '-notext', '-config', `${authority}.cnf`, '-cert', `${authority}.crt`, '-keyfile', `${authority}.key`, '-in', 'server.csr', '-out', out, '-extfile', ext, ...dates);
  await sign('ca', 'server.crt', 'server.ext', ['-days', '90']);
  await sign('ca', 'expired.crt', 'server.ext', ['-startdate', '20250101000000Z', '-enddate', '20250401000000Z']);
  await sign('other-ca', 'foreign.crt', 'server.ext', ['-days', '90']);
  await sign('ca', 'nosan.crt', 'nosan.ext', ['-days', '90']);
}

let cli: PinnedCli;
let labs: FreshLabs;
let lab: FreshLab;
let session: CliSession;
let info: CliInfo;
let material: string;
let refused = 0;

beforeAll(async () => {
  labs = new FreshLabs();
  const starting = labs.get('hostile-tls');
  cli = await PinnedCli.copy();
  material = await mkdtemp(path.join(tmpdir(), 'pvt-hostile-tls-'));
  await makeMaterial(material);
  lab = await starting;
  session = await cli.session('hostile-tls');
  await session.ok(['profile', 'import', lab.state.profileFile]);
  info = await session.info();
}, 180_000);

afterAll(async () => {
  console.log(`RELIABILITY ${JSON.stringify({ suite: 'hostile-input-tls', inputs: CASES.length, refusedAsExpected: refused })}`);
  await session?.dispose();
  await cli?.dispose();
  await labs?.downAll();
  if (material) await rm(material, { recursive: true, force: true });
}, 120_000);

/**
 * What is inside the TLS directory (path, type, mode, owner, size), empty when nothing is. The host is
 * fresh and only refusals run on it: the directories step (before the TLS step) makes the directory,
 * and nothing may ever appear in it — no certificate, key, CA or temp file.
 */
async function tlsContents(): Promise<string> {
  return (await lab.host.sudo(`find ${TLS_DIR} -mindepth 1 -printf '%p %y %m %u:%g %s\\n' 2>/dev/null | sort || :`)).trim();
}

/** The profile without what setup records about its runs (progress, lastRun). */
async function settingsOf(): Promise<unknown> {
  const { progress: _progress, lastRun: _lastRun, ...settings } = JSON.parse(await readFile(info.profileFile, 'utf8')) as Record<string, unknown>;
  return settings;
}

async function useFiles(files: TlsCase['files']): Promise<void> {
  await session.ok(['profile', 'set', 'vault.tls.mode=provided', ...(['cert', 'key', 'ca'] as const).map((part) => `vault.tls.${part}File=${path.join(material, files[part])}`)]);
}

describe(`${CASES.length} hostile certificates (vault.tls.mode provided): refused before anything is uploaded`, () => {
  for (const entry of CASES) {
    it(`${entry.name}: setup and plan exit 1, message and hint, profile settings unchanged, nothing in ${TLS_DIR}`, { timeout: 120_000 }, async () => {
      await useFiles(entry.files);
      const message = entry.message(material);

      const settings = await settingsOf();
      const setup = await session.run(SETUP_HOST, 120_000);
      const shown = describeResult(SETUP_HOST, setup);
      expect(setup.code, shown).toBe(1);
      expect(setup.stderr, `${shown}\n(no stack trace)`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      const summary = JSON.parse(setup.stdout) as SetupSummary;
      const tls = summary.steps.find((step) => step.id === 'host.tls');
      expect(tls?.state, shown).toBe('failed');
      expect(tls?.error, shown).toMatch(message);
      expect(tls?.hint, shown).toMatch(entry.hint);
      expect(setup.stderr, shown).toMatch(message);
      expect(setup.stderr, shown).toMatch(entry.hint);
      // The steps after it never ran: nothing was uploaded, Vault not (re)started with these files.
      const after = summary.steps.slice(summary.steps.indexOf(tls!) + 1);
      expect(after.map((step) => step.state), shown).toEqual(after.map(() => 'not-run'));
      expect(await settingsOf(), 'profile settings unchanged').toEqual(settings);
      expect(await tlsContents(), `nothing in ${TLS_DIR} on the host`).toBe('');

      const profileBytes = await readFile(info.profileFile);
      const plan = await session.run(PLAN_HOST, 120_000);
      const planShown = describeResult(PLAN_HOST, plan);
      expect(plan.code, planShown).toBe(1);
      expect(`${plan.stdout}\n${plan.stderr}`, planShown).toMatch(message);
      expect(plan.stderr, `${planShown}\n(no stack trace)`).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect((await readFile(info.profileFile)).equals(profileBytes), 'plan: profile file bytes unchanged').toBe(true);
      expect(await tlsContents(), `nothing in ${TLS_DIR} on the host`).toBe('');
      refused++;
    });
  }

  it('control: the same material with nothing wrong passes the TLS check (to upload)', { timeout: 120_000 }, async () => {
    await useFiles({ cert: 'server.crt', key: 'server.key', ca: 'ca.crt' });
    const { result, data } = await session.json<PlanSummary>(['plan', '--phase', 'host']);
    const tls = data.steps.find((step) => step.id === 'host.tls');
    expect(tls?.state, describeResult(PLAN_HOST, result)).toBe('todo');
    expect(tls?.detail).toMatch(/missing/);
  });
});
