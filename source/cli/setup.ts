/**
 * `setup`: runs the plan headless. Exit 0 only when every step is done; 1 when a step failed
 * (the summary and stderr say which and why); 130 when cancelled. Re-running resumes: checks skip
 * what is already done.
 */
import { InputError } from '../core/errors.js';
import { PHASES, type Phase } from '../core/step.js';
import type { GlobalOptions, Output } from './output.js';
import { printSummary, runHeadless } from './run-headless.js';

export interface SetupOptions {
  phase?: string[];
  yes?: boolean;
  json?: boolean;
  showKeys?: boolean;
  recoverHelm?: boolean;
}

/** `--phase host --phase vault` or `--phase host,vault`; none = every phase. */
export function parsePhases(values: readonly string[] | undefined): Phase[] {
  if (!values || values.length === 0) return [...PHASES];
  const phases = values.flatMap((value) => value.split(',')).map((value) => value.trim());
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) {
      throw new InputError(`unknown phase "${phase}"`, { field: '--phase', hint: `use one or more of ${PHASES.join(', ')}` });
    }
  }
  return PHASES.filter((phase) => phases.includes(phase));
}

export async function setup(global: GlobalOptions, options: SetupOptions, output: Output): Promise<number> {
  const phases = parsePhases(options.phase);
  const result = await runHeadless(global, { mode: 'apply', phases, assumeYes: options.yes === true, progress: true, showRevealed: options.showKeys === true, recoverHelm: options.recoverHelm === true }, output);
  printSummary(output, global, result, options.json === true);
  switch (result.done.result) {
    case 'ok':
      return 0;
    case 'cancelled':
      return 130;
    default:
      return 1;
  }
}
