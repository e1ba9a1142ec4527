// vault-sim only: the simulator's release packaging and the loopback mirror, checked the way an installer uses
// releases.hashicorp.com (https://releases.hashicorp.com/vault/index.json, vault_<v>_SHA256SUMS,
// vault_<v>_linux_<arch>.zip; see https://developer.hashicorp.com/vault/install and
// https://www.hashicorp.com/en/trust/security "verifying downloads").
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMirrorTree, startMirror, type RunningMirror } from '../lab/mirror/server.js';
import { buildVaultRelease } from '../lab/vault-sim/package.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-sim-release-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vault-sim only: buildVaultRelease', () => {
  it('makes vault_<v>_linux_<arch>.zip whose SHA-256 is listed in vault_<v>_SHA256SUMS, and the unzipped vault runs `version`', async () => {
    const outDir = join(dir, 'release');
    const arm64 = await buildVaultRelease({ version: '2.0.4', arch: 'arm64', outDir });
    const amd64 = await buildVaultRelease({ version: '2.0.4', arch: 'amd64', outDir });
    expect(arm64.zipPath).toBe(join(outDir, 'vault_2.0.4_linux_arm64.zip'));
    expect(arm64.sumsPath).toBe(join(outDir, 'vault_2.0.4_SHA256SUMS'));
    const zip = await readFile(arm64.zipPath);
    expect(sha256(zip)).toBe(arm64.sha256);
    expect(await readFile(arm64.sumsPath, 'utf8')).toBe(`${amd64.sha256}  vault_2.0.4_linux_amd64.zip\n${arm64.sha256}  vault_2.0.4_linux_arm64.zip\n`);
    // sha256sum -c is how a shell installer checks the download.
    const check = await run('sha256sum', ['--ignore-missing', '-c', 'vault_2.0.4_SHA256SUMS'], { cwd: outDir });
    expect(check.stdout).toContain('vault_2.0.4_linux_arm64.zip: OK');

    const unpacked = join(dir, 'unpacked');
    await mkdir(unpacked);
    await run('unzip', ['-o', arm64.zipPath, '-d', unpacked]);
    const listing = await run('unzip', ['-Z1', arm64.zipPath]);
    expect(listing.stdout).toBe('vault\n');
    const info = await stat(join(unpacked, 'vault'));
    expect(info.mode & 0o777).toBe(0o755);
    // A sh/JavaScript polyglot (see package.ts): sh execs node on it, and node runs it directly too.
    expect((await readFile(join(unpacked, 'vault'), 'utf8')).startsWith('#!/bin/sh\n')).toBe(true);
    for (const [command, args] of [[join(unpacked, 'vault'), ['version']], [process.execPath, [join(unpacked, 'vault'), 'version']]] as const) {
      const { stdout } = await run(command, [...args]);
      expect(stdout).toMatch(/^Vault v2\.0\.4 \([0-9a-f]{40}\), built 2026-01-01T00:00:00Z\n$/);
    }
  });

  it('is reproducible: the same version builds byte-identical zips', async () => {
    const first = await buildVaultRelease({ version: '1.21.3', arch: 'arm', outDir: join(dir, 'repro-a') });
    const second = await buildVaultRelease({ version: '1.21.3', arch: 'arm', outDir: join(dir, 'repro-b') });
    expect(second.sha256).toBe(first.sha256);
  });
});

describe('vault-sim only: release mirror (layout of releases.hashicorp.com)', () => {
  let mirror: RunningMirror;
  let root: string;

  beforeAll(async () => {
    root = join(dir, 'mirror');
    const builds = await buildMirrorTree({ root, versions: ['1.21.3', '2.0.4', '2.0.3'], arches: ['arm64', 'amd64', 'arm'], corrupt: ['2.0.3'] });
    expect(builds).toHaveLength(9);
    mirror = await startMirror({ root, host: '127.0.0.1', port: 0, corrupt: ['1.21.3'] });
  });

  afterAll(async () => {
    await mirror?.close();
  });

  it('serves /vault/index.json shaped like the real one', async () => {
    const response = await fetch(`${mirror.url}/vault/index.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const index = (await response.json()) as any;
    expect(index.name).toBe('vault');
    expect(Object.keys(index.versions)).toEqual(['1.21.3', '2.0.3', '2.0.4']);
    const latest = index.versions['2.0.4'];
    expect(latest).toMatchObject({ name: 'vault', version: '2.0.4', shasums: 'vault_2.0.4_SHA256SUMS', shasums_signature: 'vault_2.0.4_SHA256SUMS.sig' });
    expect(latest.builds).toHaveLength(3);
    expect(latest.builds).toContainEqual({
      name: 'vault',
      version: '2.0.4',
      os: 'linux',
      arch: 'arm64',
      filename: 'vault_2.0.4_linux_arm64.zip',
      url: `${mirror.url}/vault/2.0.4/vault_2.0.4_linux_arm64.zip`,
    });
  });

  it('serves zips whose checksum matches the SHA256SUMS line for every arch', async () => {
    const sums = await (await fetch(`${mirror.url}/vault/2.0.4/vault_2.0.4_SHA256SUMS`)).text();
    for (const arch of ['arm64', 'amd64', 'arm']) {
      const name = `vault_2.0.4_linux_${arch}.zip`;
      const response = await fetch(`${mirror.url}/vault/2.0.4/${name}`);
      expect(response.headers.get('content-type')).toBe('application/zip');
      const zip = Buffer.from(await response.arrayBuffer());
      expect(sums).toContain(`${sha256(zip)}  ${name}\n`);
    }
    const head = await fetch(`${mirror.url}/vault/2.0.4/vault_2.0.4_linux_arm.zip`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(10_000);
  });

  it('corrupt versions (on disk, or at serve time) keep their SUMS while the zip bytes differ', async () => {
    for (const version of ['2.0.3', '1.21.3']) {
      const sums = await (await fetch(`${mirror.url}/vault/${version}/vault_${version}_SHA256SUMS`)).text();
      const name = `vault_${version}_linux_arm64.zip`;
      const zip = Buffer.from(await (await fetch(`${mirror.url}/vault/${version}/${name}`)).arrayBuffer());
      const listed = new RegExp(`^([0-9a-f]{64})  ${name.replace(/\./g, '\\.')}$`, 'm').exec(sums)?.[1];
      expect(listed).toMatch(/^[0-9a-f]{64}$/);
      expect(sha256(zip)).not.toBe(listed);
    }
  });

  it('answers 404 for unknown versions, files and paths outside the tree', async () => {
    expect((await fetch(`${mirror.url}/vault/9.9.9/vault_9.9.9_linux_arm64.zip`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/vault/2.0.4/nope.zip`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/vault/2.0.4/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/terraform/index.json`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/vault/`)).status).toBe(200);
  });
});
