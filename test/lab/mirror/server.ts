// A loopback release mirror laid out like https://releases.hashicorp.com:
//   /vault/index.json                          every version with its builds
//   /vault/<v>/vault_<v>_linux_<arch>.zip      the release archive
//   /vault/<v>/vault_<v>_SHA256SUMS            `<sha256>  <file>` lines
// index.json follows the shape of the real one (name, versions{<v>: {name, version, shasums,
// shasums_signature, builds[{name, version, os, arch, filename, url}]}}).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildVaultRelease, releaseSumsName, releaseZipName } from '../vault-sim/package.js';

export interface MirrorOptions {
  root: string;
  host: '127.0.0.1' | string;
  port: number;
  /** versions whose zip is served with altered bytes while their SHA256SUMS stays the same */
  corrupt?: string[];
}

export interface RunningMirror {
  url: string;
  port: number;
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

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const headOnly = request.method === 'HEAD';
    if (request.method !== 'GET' && !headOnly) return respond(response, 405, 'method not allowed\n', 'text/plain', false);
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://mirror.invalid').pathname);
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

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) respond(response, 500, `${(error as Error).message}\n`, 'text/plain', false);
      else response.destroy();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  return {
    url: baseUrl,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

export { releaseSumsName, releaseZipName };
