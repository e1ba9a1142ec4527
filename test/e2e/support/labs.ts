/**
 * Fresh lab hosts for tests that must start from a bare host or that change the host in ways other
 * tests must not see (sudoers, a half-installed Vault). Each instance has its own LAB_DIR under /tmp
 * and its own ports, next to the suite's shared lab, which is never touched. Instances are started
 * on first use (in parallel when several are asked for early) and all stopped by `downAll()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLabLog } from '../../lab/host/log.js';
import { labDown, labUp, readLabFile, type LabState } from '../../lab/lab.js';
import { LabHostShell } from './host.js';

export interface FreshLab {
  name: string;
  state: LabState;
  host: LabHostShell;
  /** Seconds the `up` took, for the report. */
  upMs: number;
}

export class FreshLabs {
  private readonly starting = new Map<string, Promise<FreshLab>>();
  private readonly dirs = new Map<string, string>();
  private readonly quiet: boolean;

  constructor(options: { quiet?: boolean } = {}) {
    this.quiet = options.quiet ?? true;
  }

  /** The instance called `name`, started now if it is not yet. */
  get(name: string): Promise<FreshLab> {
    let lab = this.starting.get(name);
    if (!lab) {
      lab = this.start(name);
      // A failed start is reported by whoever awaits it; downAll still cleans up after it.
      lab.catch(() => undefined);
      this.starting.set(name, lab);
    }
    return lab;
  }

  private async start(name: string): Promise<FreshLab> {
    const parent = await mkdtemp(path.join(tmpdir(), `pvt-e2e-lab-${name}-`));
    const dir = path.join(parent, 'lab');
    this.dirs.set(name, dir);
    const lines: string[] = [];
    const log = createLabLog(this.quiet ? (text) => void lines.push(text) : undefined);
    const begin = Date.now();
    try {
      const { state } = await labUp({ dir, log });
      return { name, state, host: new LabHostShell(state), upMs: Date.now() - begin };
    } catch (error) {
      throw new Error(`lab instance "${name}" did not come up: ${(error as Error).message}\n${lines.join('')}`);
    }
  }

  /** Stops every instance started here and removes its files (also after a failed start). */
  async downAll(): Promise<void> {
    const problems: string[] = [];
    await Promise.all(
      [...this.dirs.entries()].map(async ([name, dir]) => {
        await this.starting.get(name)?.catch(() => undefined);
        try {
          if (await readLabFile(dir)) await labDown({ dir, log: createLabLog(() => undefined) });
          await rm(path.dirname(dir), { recursive: true, force: true });
        } catch (error) {
          problems.push(`${name} (${dir}): ${(error as Error).message}`);
        }
      }),
    );
    this.dirs.clear();
    this.starting.clear();
    if (problems.length > 0) throw new Error(`could not stop every lab instance:\n${problems.join('\n')}`);
  }
}
