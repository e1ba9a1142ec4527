// Raft snapshots are gzipped tar archives (meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed),
// like the files `vault operator raft snapshot save` writes
// (https://developer.hashicorp.com/vault/api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster).
// This is a minimal POSIX ustar writer/reader for regular files.
import { gunzipSync, gzipSync } from 'node:zlib';

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mtime: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(mtime, 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  block.write('0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

export function writeTarGz(files: { name: string; content: Buffer }[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const chunks: Buffer[] = [];
  for (const file of files) {
    chunks.push(header(file.name, file.content.length, mtime), file.content);
    const padding = (BLOCK - (file.content.length % BLOCK)) % BLOCK;
    chunks.push(Buffer.alloc(padding));
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(chunks));
}

export function readTarGz(archive: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(archive);
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) break;
    const name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '');
    const size = parseInt(block.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
    const type = block.toString('ascii', 156, 157);
    offset += BLOCK;
    if (Number.isNaN(size) || offset + size > tar.length) throw new Error('archive/tar: invalid tar header');
    if (type === '0' || type === '\0') files.set(name, Buffer.from(tar.subarray(offset, offset + size)));
    offset += Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
