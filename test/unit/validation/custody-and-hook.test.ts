/**
 * Local refusals that need no lab: custody files others could read (like ssh with a private key),
 * custody files that are not plain files of ours, and the fault-injection variable of the runner,
 * which must stay inert for anything but its documented forms.
 */
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faultFromEnvironment } from '../../../source/core/runner.js';
import { custodyPath, readCustody, writeCustody } from '../../../source/profile/custody.js';

let home: string;
const saved = process.env['XDG_DATA_HOME'];

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'pvt-custody-'));
  process.env['XDG_DATA_HOME'] = home;
});

afterEach(async () => {
  if (saved === undefined) delete process.env['XDG_DATA_HOME'];
  else process.env['XDG_DATA_HOME'] = saved;
  await rm(home, { recursive: true, force: true });
});

describe('custody refuses files others could read or that are not ours', () => {
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`mode 0${mode.toString(8)}: refused with the mode and the hint chmod 600 FILE; the file is left as it is`, async () => {
      const file = await writeCustody('default', 'init.json', '{"keys":[]}\n');
      await chmod(file, mode);
      await expect(readCustody('default', 'init.json')).rejects.toMatchObject({
        message: `${file} has mode 0${mode.toString(8)}: others can read it`,
        hint: `check who could have read it, then: chmod 600 ${file}`,
      });
      const { stat } = await import('node:fs/promises');
      expect((await stat(file)).mode & 0o777).toBe(mode);
    });
  }

  it('a symlink instead of the file: refused', async () => {
    const target = path.join(home, 'elsewhere.json');
    await writeFile(target, '{}', { mode: 0o600 });
    const file = custodyPath('default', 'init.json');
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await symlink(target, file);
    await expect(readCustody('default', 'init.json')).rejects.toThrow(/is not a regular file/);
  });

  it.skipIf(process.getuid?.() !== 0)('a file owned by another user: refused with the owner named', async () => {
    const file = await writeCustody('default', 'init.json', '{}\n');
    await chown(file, 12345, 12345);
    await expect(readCustody('default', 'init.json')).rejects.toThrow(/belongs to uid 12345, not to you/);
  });

  it('a directory in place of the file: refused', async () => {
    const file = custodyPath('default', 'init.json');
    await mkdir(file, { recursive: true, mode: 0o700 });
    await expect(readCustody('default', 'init.json')).rejects.toThrow(/is not a regular file/);
  });
});

describe('the fault-injection variable is inert unless exactly documented', () => {
  it.each([
    ['host.binary:before-apply', { stepId: 'host.binary', point: 'before-apply', line: 1 }],
    ['vault.kv:mid-apply', { stepId: 'vault.kv', point: 'mid-apply', line: 1 }],
    ['cluster.eso-install:mid-apply:9', { stepId: 'cluster.eso-install', point: 'mid-apply', line: 9 }],
    ['vault.init:after-apply', { stepId: 'vault.init', point: 'after-apply', line: 1 }],
  ])('%s is understood', (value, expected) => expect(faultFromEnvironment(value)).toEqual(expected));

  it.each(['', '1', 'true', 'host.binary', 'host.binary:', 'host.binary:during', 'host.binary:mid-apply:0', 'host.binary:mid-apply:x', 'HOST.BINARY:before-apply', ' host.binary:before-apply', 'host.binary:before-apply\n', 'binary:before-apply', 'host.binary:before-apply;id'])(
    '%j is ignored',
    (value) => expect(faultFromEnvironment(value)).toBeUndefined(),
  );
});
