/**
 * Phase 1, the host: from a bare Raspberry Pi to a Vault (or OpenBao) server answering over TLS. The order is
 * the order of dependencies: the account owns the directories, the TLS files go into them, the
 * config names the TLS files, the service runs the binary with the config, verify needs it running.
 */
import { VAULT, type ServerFlavor } from '../../core/server.js';
import type { Step } from '../../core/step.js';
import { accountStep } from './account.js';
import { binaryStep } from './binary.js';
import { configStep } from './config.js';
import { directoriesStep } from './directories.js';
import { preflightStep } from './preflight.js';
import { serviceStep } from './service.js';
import { tlsStep, type TlsStepOptions } from './tls.js';
import { verifyStep } from './verify.js';

export const HOST_STEP_IDS = [
  'host.preflight',
  'host.account',
  'host.directories',
  'host.tls',
  'host.binary',
  'host.config',
  'host.service',
  'host.verify',
] as const;

/**
 * The host phase's steps for `server` (titles and names follow it); `options` reach the TLS step
 * (which profile's custody holds the CA).
 */
export function hostSteps(server: ServerFlavor = VAULT, options: TlsStepOptions = {}): Step[] {
  return [preflightStep, accountStep(server), directoriesStep(server), tlsStep(options), binaryStep(server), configStep(server), serviceStep(server), verifyStep(server)];
}
