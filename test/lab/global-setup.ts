/**
 * Vitest global setup (https://vitest.dev/config/globalsetup): brings the lab up when the run
 * includes a test under test/e2e/, which drive the product against it, and hands its directory to
 * the tests with `provide('labDir')` (read with `inject('labDir')`) and the LAB_DIR variable.
 *
 * A lab that was already up (`npm run lab:up`) is used as it is and left running; one this setup
 * started is stopped when the run ends.
 */
import { relative, sep } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createLabLog } from './host/log.js';
import { labDown, labUp } from './lab.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** LAB_DIR of the running lab; only provided when the run includes tests that need the lab. */
    labDir: string;
  }
}

/** Test files whose tests run against the lab. */
export const LAB_TEST_DIRS = [`test${sep}e2e${sep}`];

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const root = project.config.root;
  // The files of this run are known before global setups run (Vitest collects their paths first).
  const files = project.vitest.state.getPaths();
  const needsLab = files.some((file) => LAB_TEST_DIRS.some((dir) => relative(root, file).startsWith(dir)));
  if (!needsLab) return undefined;

  const log = createLabLog();
  const { state, startedNow } = await labUp({ log });
  project.provide('labDir', state.labDir);
  process.env['LAB_DIR'] = state.labDir;
  if (!startedNow) return undefined;
  return async () => {
    await labDown({ dir: state.labDir, log });
  };
}
