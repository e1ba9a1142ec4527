/**
 * Trust boundaries:
 *  - TLS is verified for Vault and Kubernetes calls: a server on 127.0.0.1 with a certificate from
 *    another CA is refused by the product's Vault client (node-vault with our CA) and its cluster
 *    client (client-node with the kubeconfig's CA), and receives no request at all (no token sent);
 *    the same server is accepted with the right CA (so the refusal is the CA, nothing else).
 *  - SSH host keys are verified: on a lab host, sshd is stopped and an SSH server with another host
 *    key takes its port (a man in the middle); the CLI with the host's key pinned refuses, says so,
 *    exits 1, and the impostor never sees an authentication attempt (no password or key signature).
 *  - Files written on a host are never readable by others on the way: the product's one write
 *    (ShellFileOps.writeFile: `mktemp` in the target's directory → data → chown → chmod → `mv` over
 *    the target) is run under strace, which shows the temp file created 0600 by the kernel before
 *    any data is written, the chmod to the final mode before the rename, and no moment where group or
 *    others can read a file whose final mode forbids it.
 *  - The release zip is verified before unpacking: covered by the host phase e2e
 *    (test/e2e/host-phase.test.ts, "a checksum mismatch stops the binary step ... no vault binary").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterSchema } from '../../../source/profile/schema.js';
import { openCluster } from '../../../source/services/cluster.js';
import { ShellFileOps } from '../../../source/services/host/shell-file-ops.js';
import { connectVault } from '../../../source/services/vault.js';
import { freePort, makeTlsMaterial, type TlsMaterial } from '../../lab/vault-sim/testing.js';
import { describeResult } from '../support/cli.js';
import { Lanes } from '../faults/harness.js';
import { PinnedCli } from '../faults/pinned-cli.js';

let scratch: string;
let ours: TlsMaterial;
let theirs: TlsMaterial;
let server: Server;
let port: number;
let requests = 0;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pvt-trust-'));
  ours = await makeTlsMaterial(path.join(scratch, 'ours'));
  theirs = await makeTlsMaterial(path.join(scratch, 'theirs'));
  port = await freePort();
  server = createServer({ cert: await readFile(theirs.certFile), key: await readFile(theirs.keyFile) }, (request, response) => {
    requests++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ type: 'shamir', initialized: true, sealed: false, t: 1, n: 1, progress: 0, version: '2.0.4', kind: 'APIVersions', versions: ['v1'] }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(scratch, { recursive: true, force: true });
});

describe('TLS verification for Vault and Kubernetes calls', () => {
  it('Vault: a certificate from another CA is refused before any request; the right CA is accepted', async () => {
    const before = requests;
    const vault = await connectVault({ address: `https://127.0.0.1:${port}`, caPem: ours.caPem, timeoutMs: 5_000 });
    await expect(vault.sealStatus()).rejects.toThrow(/certificate|self[- ]signed|verify/i);
    expect(requests - before, 'no request reached the impostor').toBe(0);
    const trusting = await connectVault({ address: `https://127.0.0.1:${port}`, caPem: theirs.caPem, timeoutMs: 5_000 });
    await expect(trusting.sealStatus()).resolves.toMatchObject({ sealed: false });
    expect(requests - before).toBe(1);
  });

  it('Kubernetes: a kubeconfig CA that did not sign the server certificate is refused before any request', async () => {
    const kubeconfig = (ca: string): string =>
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: lab\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority-data: ${Buffer.from(ca).toString('base64')}`,
        'users:',
        '- name: admin\n  user:\n    token: not-a-real-token',
        'contexts:',
        '- name: lab\n  context:\n    cluster: lab\n    user: admin',
        'current-context: lab',
        '',
      ].join('\n');
    const file = path.join(scratch, 'kubeconfig-ours.yaml');
    await writeFile(file, kubeconfig(ours.caPem), { mode: 0o600 });
    const before = requests;
    const cluster = await openCluster(ClusterSchema.parse({ kubeconfig: file, context: 'lab' }));
    await expect(cluster.exists({ apiVersion: 'v1', kind: 'Namespace', name: 'vault' })).rejects.toThrow(/certificate|verify|TLS/i);
    expect(requests - before, 'no request (and no bearer token) reached the impostor').toBe(0);
  });
});

describe('SSH host key verification: a man in the middle on the host port', () => {
  let pinned: PinnedCli;
  let lanes: Lanes;

  beforeAll(async () => {
    pinned = await PinnedCli.copy();
    lanes = new Lanes(1, pinned);
  });
  afterAll(async () => {
    await lanes.dispose();
    await pinned.dispose();
  }, 120_000);

  it('sshd replaced by a server with another host key on the same port: refused, exit 1, no authentication attempt', { timeout: 180_000 }, async () => {
    await lanes.withLane(async (lane) => {
      const env = await lanes.fresh(lane, 'mitm');
      const { host, state } = env.lab;
      // The listener goes away; sessions already open (this one) are not in its way.
      await host.sudo('systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh.service; true');
      const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
      let authAttempts = 0;
      let connections = 0;
      const impostor = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
        connections++;
        client.on('authentication', (context) => {
          authAttempts++;
          context.reject();
        });
        client.on('error', () => undefined);
      });
      await new Promise<void>((resolve, reject) => {
        impostor.once('error', reject);
        impostor.listen(state.host.sshPort, '127.0.0.1', () => resolve());
      });
      try {
        const args = ['plan', '--phase', 'host'];
        const result = await env.session.run(args, 60_000);
        const shown = describeResult(args, result);
        expect(result.code, shown).toBe(1);
        expect(`${result.stdout}${result.stderr}`, shown).toMatch(/HOST KEY CHANGED/);
        expect(connections, 'the CLI did reach the impostor').toBeGreaterThan(0);
        expect(authAttempts, 'no authentication was offered to a server with the wrong key').toBe(0);
      } finally {
        await new Promise((resolve) => impostor.close(resolve));
      }
    });
  });
});

describe("files written on a host: created with the owner's mode, never readable by others on the way", () => {
  const strace = ['/usr/bin/strace', '/bin/strace'].find((file) => existsSync(file));

  it.skipIf(!strace)('writeFile under strace: temp created 0600 before the data, chmod to the final mode, then rename', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pvt-write-'));
    const target = path.join(dir, 'vault.key');
    const trace = path.join(dir, 'trace.txt');
    // The product's own write, with `sh` run under strace instead of directly.
    const run = (command: string, options: { stdin?: Buffer }): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> =>
      new Promise((resolve, reject) => {
        const child = spawn(strace!, ['-f', '-qq', '-o', trace, '-e', 'trace=openat,creat,write,fchmodat,fchmod,chmod,fchownat,rename,renameat,renameat2', '/bin/sh', '-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
        child.stdin.end(options.stdin ?? Buffer.alloc(0));
      });
    const secret = '-----BEGIN PRIVATE KEY-----\nnot-really-a-key\n-----END PRIVATE KEY-----\n';
    await new ShellFileOps(run, 'this machine').writeFile(target, secret, { mode: 0o640 });
    expect(((await stat(target)).mode & 0o777).toString(8)).toBe('640');
    expect(await readFile(target, 'utf8')).toBe(secret);

    const lines = (await readFile(trace, 'utf8')).split('\n');
    const created = lines.findIndex((line) => /openat\(.*\.vault\.key\.tmp\.\w+", O_RDWR\|O_CREAT\|O_EXCL, 0600\)/.test(line));
    expect(created, `mktemp creates the temp 0600 (O_EXCL):\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
    const dataWritten = lines.findIndex((line) => /write\(\d+, "-----BEGIN PRIVATE KEY/.test(line));
    expect(dataWritten, 'the data is written after the temp exists with mode 0600').toBeGreaterThan(created);
    const modeChanges = lines.filter((line) => /chmod(at)?\(/.test(line) && line.includes('.vault.key.tmp.'));
    for (const line of modeChanges) expect(line, 'no chmod gives others read access').not.toMatch(/, 0?[0-7][0-7][4-7]\)/);
    const chmodAt = lines.findIndex((line) => /chmod(at)?\(.*\.vault\.key\.tmp\.\w+", 0640\)/.test(line));
    const renamed = lines.findIndex((line) => /rename(at2?)?\(.*\.vault\.key\.tmp\.\w+".*vault\.key"/.test(line));
    expect(chmodAt, 'the final mode is set on the temp file').toBeGreaterThan(dataWritten);
    expect(renamed, 'then it is renamed over the target').toBeGreaterThan(chmodAt);
    await rm(dir, { recursive: true, force: true });
  });
});
