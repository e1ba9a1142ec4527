/**
 * Temp XDG directories for profile tests: every test gets its own config/data/state roots, and the
 * previous environment is restored afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const XDG_VARIABLES = ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME'] as const;

export interface TempXdg {
  root: string;
  config: string;
  restore(): void;
}

export function useTempXdg(): TempXdg {
  const root = mkdtempSync(path.join(tmpdir(), 'pvt-profile-'));
  const saved = Object.fromEntries(XDG_VARIABLES.map((name) => [name, process.env[name]]));
  process.env['XDG_CONFIG_HOME'] = path.join(root, 'config');
  process.env['XDG_DATA_HOME'] = path.join(root, 'data');
  process.env['XDG_STATE_HOME'] = path.join(root, 'state');
  return {
    root,
    config: path.join(root, 'config'),
    restore() {
      for (const name of XDG_VARIABLES) {
        const value = saved[name];
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
