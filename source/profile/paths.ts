/**
 * Where the product keeps its files, following the XDG base directory spec (env-paths honours
 * XDG_CONFIG_HOME, XDG_DATA_HOME and XDG_STATE_HOME on Linux; they are read at call time so tests
 * and users can point them elsewhere).
 *   config: profiles (no secrets)          $XDG_CONFIG_HOME/picluster-vault-tui/profiles/NAME.json
 *   data:   custody (keys, CA key, tokens) $XDG_DATA_HOME/picluster-vault-tui/custody/NAME/
 *   state:  logs                           $XDG_STATE_HOME/picluster-vault-tui/logs/NAME.log
 */
import envPaths from 'env-paths';
import { homedir } from 'node:os';
import path from 'node:path';

export const APP_NAME = 'picluster-vault-tui';

export interface AppPaths {
  config: string;
  data: string;
  state: string;
  profilesDir: string;
  custodyRoot: string;
  logsDir: string;
}

export function appPaths(): AppPaths {
  const base = envPaths(APP_NAME, { suffix: '' });
  return {
    config: base.config,
    data: base.data,
    state: base.log,
    profilesDir: path.join(base.config, 'profiles'),
    custodyRoot: path.join(base.data, 'custody'),
    logsDir: path.join(base.log, 'logs'),
  };
}

export function profileFile(name: string): string {
  return path.join(appPaths().profilesDir, `${name}.json`);
}

export function custodyDir(name: string): string {
  return path.join(appPaths().custodyRoot, name);
}

export function logFile(name: string): string {
  return path.join(appPaths().logsDir, `${name}.log`);
}

export const DEFAULT_PROFILE = 'default';

/** A local path the user typed (profile keyFile, certFile, kubeconfig…): `~` and `~/…` mean their home. */
export function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(homedir(), file.slice(1)) : file;
}
