// The config drift diff: unified format as GNU diff -u writes it
// (https://www.gnu.org/software/diffutils/manual/html_node/Detailed-Unified.html), checked against
// the real diff and patch programs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProfileSchema } from '../../source/profile/schema.js';
import { renderVaultConfig, unifiedDiff } from '../../source/steps/host/config.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'host-config-diff-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** GNU diff -u of the same texts, without its two header lines. */
async function gnuHunks(before: string, after: string): Promise<string> {
  await writeFile(path.join(dir, 'a'), before);
  await writeFile(path.join(dir, 'b'), after);
  const output = await run('diff', ['-u', path.join(dir, 'a'), path.join(dir, 'b')]).then(
    (r) => r.stdout,
    (error: { code: number; stdout: string }) => {
      if (error.code !== 1) throw error;
      return error.stdout;
    },
  );
  return output.split('\n').slice(2).join('\n').trimEnd();
}

function ourHunks(before: string, after: string): string {
  return unifiedDiff(before, after, { before: 'a', after: 'b' }).split('\n').slice(2).join('\n');
}

const config = renderVaultConfig(ProfileSchema.parse({ vault: { nodeIp: '10.0.0.11' } }), 'pi-vault');

describe('unified diff of a hand-edited config', () => {
  const edits: [string, (text: string) => string][] = [
    ['one value changed', (t) => t.replace('ui = true', 'ui = false')],
    ['a line added at the end', (t) => `${t}log_level = "debug"\n`],
    ['a line added at the start', (t) => `# mine\n${t}`],
    ['lines removed', (t) => t.replace(/ *tls_(cert|key)_file .*\n/g, '')],
    ['changes far apart (two hunks)', (t) => t.replace('disable_mlock = true', 'disable_mlock = false').replace('# Vault server configuration', '# My Vault')],
    ['changes close together (one hunk)', (t) => t.replace('node_id', 'node_idx').replace('plugin_directory', 'plugin_dir')],
    ['everything replaced', () => 'garbage\n'],
  ];

  for (const [name, edit] of edits) {
    it(`matches diff -u: ${name}`, async () => {
      const edited = edit(config);
      // From what is on the host (edited) to what the profile renders (config), as the step logs it.
      expect(ourHunks(edited, config)).toBe(await gnuHunks(edited, config));
    });
  }

  it('is a patch that turns the host file into the rendered one, for every edit above and an ambiguous one', async () => {
    const ambiguous = (t: string) => t.replace(/storage "raft" \{[^}]*\}\n/, '').replace('raft', 'file') + 'extra = 1\n';
    for (const edit of [...edits.map(([, e]) => e), ambiguous]) {
      const edited = edit(config);
      const target = path.join(dir, 'vault_main.hcl');
      await writeFile(target, edited);
      const patchFile = path.join(dir, 'change.patch');
      await writeFile(patchFile, `${unifiedDiff(edited, config, { before: 'vault_main.hcl', after: 'vault_main.hcl' })}\n`);
      await run('patch', ['--quiet', '--force', target, patchFile]);
      expect(await readFile(target, 'utf8')).toBe(config);
    }
  });

  it('is empty for equal texts', () => {
    expect(unifiedDiff(config, config, { before: 'a', after: 'b' })).toBe('');
  });

  it('labels the sides so the log says which is the host and which the profile', () => {
    const diff = unifiedDiff('a\n', 'b\n', { before: '/etc/vault/vault_main.hcl (on the host)', after: '/etc/vault/vault_main.hcl (from the profile)' });
    expect(diff.split('\n')).toEqual(['--- /etc/vault/vault_main.hcl (on the host)', '+++ /etc/vault/vault_main.hcl (from the profile)', '@@ -1 +1 @@', '-a', '+b']);
  });
});
