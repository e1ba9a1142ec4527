/**
 * `info`: where the product keeps its files for the selected profile. Reads paths only (no conf),
 * so it stays fast and works even when the profile file is broken.
 */
import { existsSync } from 'node:fs';
import { appPaths, custodyDir, logFile, profileFile } from '../profile/paths.js';
import type { GlobalOptions, Output } from './output.js';

export function info(global: GlobalOptions, options: { json?: boolean }, output: Output, version: string): number {
  const paths = appPaths();
  const details = {
    version,
    profile: global.profile,
    configDir: paths.config,
    dataDir: paths.data,
    stateDir: paths.state,
    profilesDir: paths.profilesDir,
    profileFile: profileFile(global.profile),
    profileExists: existsSync(profileFile(global.profile)),
    custodyDir: custodyDir(global.profile),
    logFile: logFile(global.profile),
  };
  if (options.json) {
    output.json(details);
    return 0;
  }
  const rows: [string, string][] = [
    ['version', details.version],
    ['profile', details.profile],
    ['config dir', details.configDir],
    ['data dir', details.dataDir],
    ['state dir', details.stateDir],
    ['profile file', `${details.profileFile}${details.profileExists ? '' : ' (not created yet)'}`],
    ['custody dir', details.custodyDir],
    ['log file', details.logFile],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) output.out(`${label.padEnd(width)}  ${value}`);
  return 0;
}
