// A loopback release mirror laid out like https://releases.hashicorp.com:
//   /vault/index.json                          every version with its builds
//   /vault/<v>/vault_<v>_linux_<arch>.zip      the release archive
//   /vault/<v>/vault_<v>_SHA256SUMS            `<sha256>  <file>` lines
// index.json follows the shape of the real one (name, versions{<v>: {name, version, shasums,
// shasums_signature, builds[{name, version, os, arch, filename, url}]}}).
//
// and like OpenBao's GitHub releases (https://github.com/openbao/openbao/releases), 2.6.0 and later:
//   /openbao/releases/latest                                          302 to .../tag/v<latest>
//   /openbao/releases/tag/v<v>                                        200, a small HTML page
//   /openbao/releases/download/v<v>/openbao_<v>_linux_<arch>.tar.gz   the release archive
//   /openbao/releases/download/v<v>/checksums.txt                     `<sha256>  <file>` lines
// On disk: <root>/openbao/releases/download/v<v>/<file>, and <root>/openbao/releases.json naming
// the latest release (else the highest version is). github.com redirects downloads to its asset
// host; the mirror answers them itself.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { buildVaultRelease, releaseSumsName, releaseZipName } from '../vault-sim/package.js';
import { linkOrCopy, OPENBAO_SUMS_NAME, openbaoArchiveName } from '../openbao/release.js';

export interface MirrorOptions {
  root: string;
  host: '127.0.0.1' | string;
  port: number;
  /** versions whose zip is served with altered bytes while their SHA256SUMS stays the same */
  corrupt?: string[];
  /** Also serve everything over HTTPS on this port with this certificate (PEM). */
  https?: { port: number; cert: string; key: string };
}

export interface RunningMirror {
  url: string;
  port: number;
  /** https://<host>:<port> when options.https was given. */
  httpsUrl?: string;
  close(): Promise<void>;
}

export interface MirrorTreeOptions {
  root: string;
  versions: string[];
  arches: string[];
  /** versions whose zip on disk is altered after its SHA256SUMS was written */
  corrupt?: string[];
}

export interface MirrorBuild {
  version: string;
  arch: string;
  zipPath: string;
  /** the checksum the SHA256SUMS file lists (for corrupt versions, not the zip's real one) */
  sha256: string;
  corrupt: boolean;
}

const PRODUCT = 'vault';
/** Chart repositories: <root>/charts/<repository>/{index.yaml,<chart>-<version>.tgz}. */
export const CHARTS = 'charts';
const VERSION_PATTERN = /^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;
const ZIP_PATTERN = /^vault_(.+)_([a-z0-9]+)_([a-z0-9]+)\.zip$/;

/** Alters one byte in the middle of the archive: same size, wrong checksum, unzip's CRC fails. */
export function corruptBytes(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  const index = Math.floor(copy.length / 2);
  copy[index] = copy[index]! ^ 0xff;
  return copy;
}

/** Builds the releases of each version for each arch under <root>/vault/<version>/. */
export async function buildMirrorTree(options: MirrorTreeOptions): Promise<MirrorBuild[]> {
  const corrupt = new Set(options.corrupt ?? []);
  const builds: MirrorBuild[] = [];
  for (const version of options.versions) {
    if (!VERSION_PATTERN.test(version)) throw new Error(`not a release version: ${JSON.stringify(version)}`);
    const outDir = join(options.root, PRODUCT, version);
    for (const arch of options.arches) {
      const release = await buildVaultRelease({ version, arch, outDir });
      if (corrupt.has(version)) await writeFile(release.zipPath, corruptBytes(await readFile(release.zipPath)));
      builds.push({ version, arch, zipPath: release.zipPath, sha256: release.sha256, corrupt: corrupt.has(version) });
    }
  }
  return builds;
}

/** Where the OpenBao releases live, in the tree and in URLs: `<mirror>/openbao/releases` is a releaseBaseUrl. */
export const OPENBAO_RELEASES = 'openbao/releases';
const OPENBAO_VERSION_PATTERN = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

export interface OpenBaoTreeOptions {
  root: string;
  /** Archives to serve (ensureOpenBaoArchive's results): each is hard-linked into the tree, or copied. */
  archives: { version: string; arch: string; path: string; sha256: string }[];
  /** The release `latest` redirects to. */
  latest: string;
  /** Versions whose archives are served with one byte altered while checksums.txt lists the real checksum. */
  corrupt?: string[];
}

export interface OpenBaoMirrorBuild {
  version: string;
  arch: string;
  archivePath: string;
  /** The checksum checksums.txt lists (for corrupt versions, not the served archive's). */
  sha256: string;
  corrupt: boolean;
  /** How the archive came into the tree: a hard link to the cache, a copy, or an altered copy. */
  placed: 'linked' | 'copied' | 'altered copy';
}

/** Alters the byte corruptBytes alters, in place in a file (the file must not be a link to a cache). */
async function corruptFileInPlace(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    const index = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, index);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, index);
  } finally {
    await handle.close();
  }
}

/**
 * Lays out OpenBao's releases under <root>/openbao/releases/download/v<v>/: the archives and one
 * checksums.txt per version (sorted by file name, as goreleaser writes it), plus releases.json.
 */
export async function buildOpenBaoTree(options: OpenBaoTreeOptions): Promise<OpenBaoMirrorBuild[]> {
  const corrupt = new Set(options.corrupt ?? []);
  const base = join(options.root, OPENBAO_RELEASES);
  const byVersion = new Map<string, OpenBaoTreeOptions['archives']>();
  for (const archive of options.archives) {
    if (!OPENBAO_VERSION_PATTERN.test(archive.version)) throw new Error(`not an OpenBao release version: ${JSON.stringify(archive.version)}`);
    byVersion.set(archive.version, [...(byVersion.get(archive.version) ?? []), archive]);
  }
  if (!byVersion.has(options.latest)) throw new Error(`the latest OpenBao release ${options.latest} is not among the archives`);
  const builds: OpenBaoMirrorBuild[] = [];
  for (const [version, archives] of byVersion) {
    const dir = join(base, 'download', `v${version}`);
    await mkdir(dir, { recursive: true });
    const lines: string[] = [];
    for (const archive of archives) {
      const name = openbaoArchiveName(version, archive.arch);
      const target = join(dir, name);
      await rm(target, { force: true });
      let placed: OpenBaoMirrorBuild['placed'];
      if (corrupt.has(version)) {
        // Never alter a link: it is the cache's file.
        await copyFile(archive.path, target);
        await corruptFileInPlace(target);
        placed = 'altered copy';
      } else {
        placed = await linkOrCopy(archive.path, target);
      }
      lines.push(`${archive.sha256}  ${name}`);
      builds.push({ version, arch: archive.arch, archivePath: target, sha256: archive.sha256, corrupt: corrupt.has(version), placed });
    }
    lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1));
    await writeFile(join(dir, OPENBAO_SUMS_NAME), `${lines.join('\n')}\n`);
  }
  const versions = [...byVersion.keys()].sort(compareVersions);
  await writeFile(join(options.root, 'openbao', 'releases.json'), `${JSON.stringify({ latest: options.latest, versions, corrupt: [...corrupt] }, null, 2)}\n`);
  return builds;
}

function compareVersions(a: string, b: string): number {
  const parse = (v: string): number[] => v.split(/[-+]/)[0]!.split('.').map(Number);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return a.localeCompare(b);
}

async function listVersions(root: string): Promise<string[]> {
  const entries = await readdir(join(root, PRODUCT), { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && VERSION_PATTERN.test(e.name)).map((e) => e.name).sort(compareVersions);
}

async function buildIndex(root: string, baseUrl: string): Promise<unknown> {
  const versions: Record<string, unknown> = {};
  for (const version of await listVersions(root)) {
    const files = await readdir(join(root, PRODUCT, version));
    const builds = files
      .map((filename) => ({ filename, match: ZIP_PATTERN.exec(filename) }))
      .filter(({ match }) => match && match[1] === version)
      .map(({ filename, match }) => ({
        name: PRODUCT,
        version,
        os: match![2]!,
        arch: match![3]!,
        filename,
        url: `${baseUrl}/${PRODUCT}/${version}/${filename}`,
      }));
    versions[version] = {
      name: PRODUCT,
      version,
      shasums: releaseSumsName(version),
      shasums_signature: `${releaseSumsName(version)}.sig`,
      builds,
    };
  }
  return { name: PRODUCT, versions };
}

async function openbaoVersions(root: string): Promise<string[]> {
  const entries = await readdir(join(root, OPENBAO_RELEASES, 'download'), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && e.name.startsWith('v') && OPENBAO_VERSION_PATTERN.test(e.name.slice(1)))
    .map((e) => e.name.slice(1))
    .sort(compareVersions);
}

/** The release `latest` points at: releases.json's, else the highest version served. */
async function openbaoLatest(root: string): Promise<string | undefined> {
  const versions = await openbaoVersions(root);
  const recorded = await readFile(join(root, 'openbao', 'releases.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { latest?: unknown }).latest)
    .catch(() => undefined);
  if (typeof recorded === 'string' && versions.includes(recorded)) return recorded;
  return versions.at(-1);
}

function tagPage(version: string): string {
  return `<!DOCTYPE html>\n<html><head><title>Release v${version} · openbao/openbao</title></head><body><h1>OpenBao v${version}</h1><p>Served by the picluster-vault-tui lab mirror.</p></body></html>\n`;
}

function listingPage(title: string, links: string[]): string {
  const items = links.map((href) => `<li><a href="${href}">${href.replace(/\/$/, '').split('/').pop()}</a></li>`).join('\n');
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><ul>\n${items}\n</ul></body></html>\n`;
}

export async function startMirror(options: MirrorOptions): Promise<RunningMirror> {
  const root = resolve(options.root);
  const corrupt = new Set(options.corrupt ?? []);
  let baseUrl = '';

  const respond = (response: ServerResponse, status: number, body: Buffer | string, type: string, headOnly: boolean): void => {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    response.writeHead(status, { 'Content-Type': type, 'Content-Length': String(payload.length) });
    response.end(headOnly ? undefined : payload);
  };

  /** GitHub-style OpenBao releases; `rest` is the path after /openbao/releases. */
  const handleOpenBao = async (rest: string, response: ServerResponse, headOnly: boolean): Promise<void> => {
    const notFound = () => respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    const releases = `${baseUrl}/${OPENBAO_RELEASES}`;
    if (rest === '' || rest === '/') {
      const versions = await openbaoVersions(root);
      return respond(response, 200, listingPage('openbao releases', versions.reverse().map((v) => `/${OPENBAO_RELEASES}/tag/v${v}`)), 'text/html; charset=utf-8', headOnly);
    }
    if (rest === '/latest') {
      const latest = await openbaoLatest(root);
      if (!latest) return notFound();
      const location = `${releases}/tag/v${latest}`;
      const body = `<html><body>You are being <a href="${location}">redirected</a>.</body></html>`;
      response.writeHead(302, { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
      response.end(headOnly ? undefined : body);
      return;
    }
    const tag = /^\/tag\/v([^/]+)$/.exec(rest);
    if (tag) {
      const version = tag[1]!;
      if (!OPENBAO_VERSION_PATTERN.test(version) || !(await openbaoVersions(root)).includes(version)) return notFound();
      return respond(response, 200, tagPage(version), 'text/html; charset=utf-8', headOnly);
    }
    const download = /^\/download\/v([^/]+)\/([^/]+)$/.exec(rest);
    if (!download || !OPENBAO_VERSION_PATTERN.test(download[1]!)) return notFound();
    const [, version, file] = download as unknown as [string, string, string];
    const directory = join(root, OPENBAO_RELEASES, 'download', `v${version}`);
    const target = resolve(directory, file);
    if (!target.startsWith(directory + sep)) return notFound();
    const info = await stat(target).catch(() => null);
    if (!info?.isFile()) return notFound();
    const isArchive = file.endsWith('.tar.gz');
    // Archives are ~80 MB: streamed from disk, not read into memory.
    response.writeHead(200, { 'Content-Type': isArchive ? 'application/octet-stream' : 'text/plain; charset=utf-8', 'Content-Length': String(info.size) });
    if (headOnly) {
      response.end();
      return;
    }
    await pipeline(createReadStream(target), response);
  };

  /** A file under `directory` (no listing, nothing outside it): the chart repositories. */
  const serveStatic = async (directory: string, rest: string, response: ServerResponse, headOnly: boolean): Promise<void> => {
    const target = resolve(directory, rest);
    if (!target.startsWith(directory + sep)) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    const info = await stat(target).catch(() => null);
    if (!info?.isFile()) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    const type = target.endsWith('.yaml') ? 'text/yaml; charset=utf-8' : target.endsWith('.tgz') ? 'application/gzip' : 'application/octet-stream';
    return respond(response, 200, await readFile(target), type, headOnly);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const headOnly = request.method === 'HEAD';
    if (request.method !== 'GET' && !headOnly) return respond(response, 405, 'method not allowed\n', 'text/plain', false);
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://mirror.invalid').pathname);
    if (path.startsWith(`/${CHARTS}/`)) return serveStatic(join(root, CHARTS), path.slice(CHARTS.length + 2), response, headOnly);
    if (path === `/${OPENBAO_RELEASES}` || path.startsWith(`/${OPENBAO_RELEASES}/`)) {
      return handleOpenBao(path.slice(OPENBAO_RELEASES.length + 1), response, headOnly);
    }
    if (path === `/${PRODUCT}/index.json`) {
      return respond(response, 200, `${JSON.stringify(await buildIndex(root, baseUrl), null, 2)}\n`, 'application/json', headOnly);
    }
    if (path === `/${PRODUCT}` || path === `/${PRODUCT}/`) {
      const versions = await listVersions(root);
      return respond(response, 200, listingPage(PRODUCT, versions.reverse().map((v) => `/${PRODUCT}/${v}/`)), 'text/html; charset=utf-8', headOnly);
    }
    const match = new RegExp(`^/${PRODUCT}/([^/]+)/([^/]*)$`).exec(path);
    if (!match || !VERSION_PATTERN.test(match[1]!)) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    const [, version, file] = match as unknown as [string, string, string];
    const directory = join(root, PRODUCT, version);
    if (file === '') {
      const files = await readdir(directory).catch(() => null);
      if (!files) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
      return respond(response, 200, listingPage(`${PRODUCT} ${version}`, files.sort().map((f) => `/${PRODUCT}/${version}/${f}`)), 'text/html; charset=utf-8', headOnly);
    }
    const target = resolve(directory, file);
    if (!target.startsWith(directory + sep)) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    const info = await stat(target).catch(() => null);
    if (!info?.isFile()) return respond(response, 404, 'Not Found\n', 'text/plain', headOnly);
    let content: Buffer = await readFile(target);
    const isZip = file.endsWith('.zip');
    if (isZip && corrupt.has(version)) content = corruptBytes(content);
    return respond(response, 200, content, isZip ? 'application/zip' : 'text/plain; charset=utf-8', headOnly);
  };

  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) respond(response, 500, `${(error as Error).message}\n`, 'text/plain', false);
      else response.destroy();
    });
  };
  const listen = (server: ReturnType<typeof createServer> | ReturnType<typeof createHttpsServer>, port: number): Promise<number> =>
    new Promise<number>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => {
        server.off('error', reject);
        resolveListen((server.address() as AddressInfo).port);
      });
    });
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const server = createServer(listener);
  const port = await listen(server, options.port);
  baseUrl = `http://${host}:${port}`;
  const secure = options.https ? createHttpsServer({ cert: options.https.cert, key: options.https.key }, listener) : undefined;
  const httpsPort = secure && options.https ? await listen(secure, options.https.port) : undefined;
  const closeServer = (item: { close(callback: () => void): unknown; closeAllConnections(): void }): Promise<void> =>
    new Promise<void>((resolveClose) => {
      item.close(() => resolveClose());
      item.closeAllConnections();
    });
  return {
    url: baseUrl,
    port,
    ...(httpsPort === undefined ? {} : { httpsUrl: `https://${host}:${httpsPort}` }),
    close: async () => {
      await Promise.all([closeServer(server), ...(secure ? [closeServer(secure)] : [])]);
    },
  };
}

export { releaseSumsName, releaseZipName };
