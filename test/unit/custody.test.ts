/**
 * Local custody: modes, atomic and durable writes, no overwrite, passphrase envelopes.
 * The crash test runs the real module in a child process whose file size limit (RLIMIT_FSIZE,
 * `ulimit -f`, see setrlimit(2)) makes the write fail half-way, as a full disk would.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, UserError } from '../../source/core/errors.js';
import { custodyDir } from '../../source/profile/paths.js';
import { custodyExists, custodyIsEncrypted, custodyPath, readCustody, writeCustody } from '../../source/profile/custody.js';
import { useTempXdg, type TempXdg } from './profile-helpers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CUSTODY_MODULE = path.join(REPO_ROOT, 'source', 'profile', 'custody.ts');

let xdg: TempXdg;
beforeEach(() => {
  xdg = useTempXdg();
});
afterEach(() => xdg.restore());

const mode = (target: string): number => statSync(target).mode & 0o777;

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** Runs writeCustody in a child node with the given file size limit (KiB); resolves with its exit code and stderr. */
function writeInChild(options: { limitKiB: number; name: string; bytes: number; replace: boolean }): Promise<{ code: number | null; stderr: string }> {
  const script = [
    `const { writeCustody } = await import(${JSON.stringify(CUSTODY_MODULE)});`,
    `await writeCustody('crash', ${JSON.stringify(options.name)}, Buffer.alloc(${options.bytes}, 0x6e), { replace: ${options.replace} });`,
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `ulimit -f ${options.limitKiB} && exec "$0" --import tsx -e "$1"`, process.execPath, script], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('custody files and modes', () => {
  it('writes under XDG_DATA_HOME with the directory 0700 and the file 0600, and reads it back', async () => {
    const written = await writeCustody('lab', 'ca.key', 'key material\n');
    expect(written).toBe(path.join(xdg.root, 'data', 'picluster-vault-tui', 'custody', 'lab', 'ca.key'));
    expect(custodyPath('lab', 'ca.key')).toBe(written);
    expect(mode(custodyDir('lab'))).toBe(0o700);
    expect(mode(written)).toBe(0o600);
    expect((await readCustody('lab', 'ca.key')).toString()).toBe('key material\n');
    expect(await custodyExists('lab', 'ca.key')).toBe(true);
    expect(await custodyExists('lab', 'init.json')).toBe(false);
    expect(await custodyIsEncrypted('lab', 'ca.key')).toBe(false);
    // No temp file is left beside it.
    expect(readdirSync(custodyDir('lab'))).toEqual(['ca.key']);
  });

  it('tightens a custody directory that is looser than 0700', async () => {
    mkdirSync(custodyDir('lab'), { recursive: true });
    chmodSync(custodyDir('lab'), 0o755);
    await writeCustody('lab', 'ca.crt', 'cert');
    expect(mode(custodyDir('lab'))).toBe(0o700);
  });

  it('refuses to read a custody file others can read, saying so instead of fixing it quietly', async () => {
    const file = await writeCustody('lab', 'init.json', '{"keys":["k1"]}');
    chmodSync(file, 0o644);
    const error = await rejection(readCustody('lab', 'init.json'));
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`${file} has mode 0644: others can read it`);
    expect((error as UserError).hint).toContain(`chmod 600 ${file}`);
  });

  it('refuses names that would leave the custody directory, and says which file is missing', async () => {
    for (const name of ['../escape', 'a/b', '.hidden', 'ca.key.bak-2026', 'x.tmp', '']) {
      expect(() => custodyPath('lab', name)).toThrow(InputError);
    }
    expect(() => custodyPath('../other', 'ca.key')).toThrow(InputError);
    const missing = await rejection(readCustody('lab', 'root-token'));
    expect(missing.message).toBe(`${custodyPath('lab', 'root-token')} does not exist`);
  });
});

describe('never overwrite unless asked', () => {
  it('refuses a second write of the same name and leaves the first content untouched', async () => {
    const file = await writeCustody('lab', 'init.json', 'first answer');
    const error = await rejection(writeCustody('lab', 'init.json', 'second answer'));
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`${file} already exists; custody files are never overwritten`);
    expect(readFileSync(file, 'utf8')).toBe('first answer');
    expect(readdirSync(custodyDir('lab'))).toEqual(['init.json']);
  });

  it('with replace: true writes the new content and keeps the old one as NAME.bak-<timestamp> (0600)', async () => {
    const file = await writeCustody('lab', 'ca.crt', 'old cert');
    await writeCustody('lab', 'ca.crt', 'new cert', { replace: true });
    expect(readFileSync(file, 'utf8')).toBe('new cert');
    const backups = readdirSync(custodyDir('lab')).filter((entry) => entry.startsWith('ca.crt.bak-'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^ca\.crt\.bak-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
    const backup = path.join(custodyDir('lab'), backups[0]!);
    expect(readFileSync(backup, 'utf8')).toBe('old cert');
    expect(mode(backup)).toBe(0o600);
  });
});

describe('atomic writes', () => {
  it('a write that fails half-way (file size limit) leaves no file and no partial temp file', async () => {
    const result = await writeInChild({ limitKiB: 8, name: 'init.json', bytes: 256 * 1024, replace: false });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('EFBIG');
    expect(existsSync(custodyPath('crash', 'init.json'))).toBe(false);
    expect(readdirSync(custodyDir('crash'))).toEqual([]);
  });

  it('a replacing write that fails half-way leaves the old content whole', async () => {
    const file = await writeCustody('crash', 'init.json', 'the only copy of the keys');
    const result = await writeInChild({ limitKiB: 8, name: 'init.json', bytes: 256 * 1024, replace: true });
    expect(result.code).not.toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('the only copy of the keys');
    expect(readdirSync(custodyDir('crash'))).toEqual(['init.json']);
  });

  it('removes the temp file of a writer that died before finishing, but not the target', async () => {
    await writeCustody('lab', 'ca.crt', 'cert');
    // What a process killed after its write and before the link leaves behind. PID 2^22+1 is above
    // Linux's pid_max limit, so no live process can have it.
    const stale = path.join(custodyDir('lab'), `.ca.key.${2 ** 22 + 1}.0123456789ab.tmp`);
    writeFileSync(stale, 'half', { mode: 0o600 });
    await writeCustody('lab', 'ca.key', 'key');
    expect(readdirSync(custodyDir('lab')).sort()).toEqual(['ca.crt', 'ca.key']);
  });
});

describe('passphrase protection (scrypt + AES-256-GCM)', () => {
  const secret = '{"keys":["8c1f...unseal-key-1"],"root_token":"hvs.example-root-token"}';

  it('round-trips, and the file is a JSON envelope that holds no plaintext', async () => {
    const file = await writeCustody('lab', 'init.json', secret, { passphrase: 'correct horse battery staple' });
    const stored = readFileSync(file, 'utf8');
    expect(stored).not.toContain('unseal-key-1');
    expect(stored).not.toContain('root-token');
    const envelope = JSON.parse(stored) as Record<string, unknown> & { kdf: Record<string, unknown> };
    expect(envelope['v']).toBe(1);
    expect(envelope['cipher']).toBe('aes-256-gcm');
    expect(envelope.kdf['name']).toBe('scrypt');
    expect(envelope.kdf['N']).toBeGreaterThanOrEqual(2 ** 15);
    expect(envelope.kdf['r']).toBe(8);
    expect(envelope.kdf['p']).toBe(1);
    expect(Buffer.from(envelope.kdf['salt'] as string, 'base64')).toHaveLength(16);
    expect(Buffer.from(envelope['iv'] as string, 'base64')).toHaveLength(12);
    expect(Buffer.from(envelope['tag'] as string, 'base64')).toHaveLength(16);
    expect(mode(file)).toBe(0o600);
    expect(await custodyIsEncrypted('lab', 'init.json')).toBe(true);
    expect((await readCustody('lab', 'init.json', { passphrase: 'correct horse battery staple' })).toString()).toBe(secret);
  });

  it('two writes of the same content use different salts and nonces', async () => {
    await writeCustody('a', 'x', 'same', { passphrase: 'pass-phrase' });
    await writeCustody('b', 'x', 'same', { passphrase: 'pass-phrase' });
    const first = JSON.parse(readFileSync(custodyPath('a', 'x'), 'utf8')) as { iv: string; kdf: { salt: string }; data: string };
    const second = JSON.parse(readFileSync(custodyPath('b', 'x'), 'utf8')) as { iv: string; kdf: { salt: string }; data: string };
    expect(first.kdf.salt).not.toBe(second.kdf.salt);
    expect(first.iv).not.toBe(second.iv);
    expect(first.data).not.toBe(second.data);
  });

  it('a wrong passphrase is a clear InputError and leaves the file untouched', async () => {
    const file = await writeCustody('lab', 'init.json', secret, { passphrase: 'right one' });
    const before = readFileSync(file);
    const error = await rejection(readCustody('lab', 'init.json', { passphrase: 'wrong one' }));
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe('passphrase');
    expect(error.message).toBe(`wrong passphrase for ${file} (or the file was altered)`);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('asks for the passphrase when none is given, and detects a weakened KDF in the header', async () => {
    const file = await writeCustody('lab', 'init.json', secret, { passphrase: 'right one' });
    const missing = await rejection(readCustody('lab', 'init.json'));
    expect(missing).toBeInstanceOf(InputError);
    expect(missing.message).toBe(`${file} is protected by a passphrase`);

    // The header is authenticated: a tampered (weaker) N is refused before or by decryption.
    const envelope = JSON.parse(readFileSync(file, 'utf8')) as { kdf: { N: number } };
    envelope.kdf.N = 2 ** 10;
    writeFileSync(file, JSON.stringify(envelope), { mode: 0o600 });
    const tampered = await rejection(readCustody('lab', 'init.json', { passphrase: 'right one' }));
    expect(tampered.message).toContain('not a custody envelope this version can read');

    // Within the accepted range the change is caught by GCM: the header is additional data.
    envelope.kdf.N = 2 ** 16;
    writeFileSync(file, JSON.stringify(envelope), { mode: 0o600 });
    const altered = await rejection(readCustody('lab', 'init.json', { passphrase: 'right one' }));
    expect(altered.message).toBe(`wrong passphrase for ${file} (or the file was altered)`);
  });

  it('plain JSON content (an init answer) is not mistaken for an envelope', async () => {
    await writeCustody('lab', 'init.json', secret);
    expect(await custodyIsEncrypted('lab', 'init.json')).toBe(false);
    expect((await readCustody('lab', 'init.json')).toString()).toBe(secret);
  });
});
