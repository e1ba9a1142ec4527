/**
 * The lab's machine-wide port reservations (test/lab/host/ports.ts): a port one lab instance chose
 * for a Vault it starts later must not be handed to another instance (or a cluster pod) that looks
 * in between, when nothing listens on it yet.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { holdPorts, isPortFree, pickFreePorts, releasePorts } from '../../lab/host/ports.js';

let dir: string;
let previous: string | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pvt-ports-'));
  previous = process.env.LAB_PORTS_DIR;
  process.env.LAB_PORTS_DIR = path.join(dir, 'reservations');
});

afterEach(async () => {
  if (previous === undefined) delete process.env.LAB_PORTS_DIR;
  else process.env.LAB_PORTS_DIR = previous;
  await rm(dir, { recursive: true, force: true });
});

describe('lab port reservations', () => {
  it('never hands out a port another instance reserved and has not bound yet', async () => {
    const holder = path.join(dir, 'lab.json');
    await writeFile(holder, '{}');
    const first = await pickFreePorts(200, new Set(), holder);
    // Nothing listens on them: without the reservation every one would look free to the next picker.
    for (const port of first.slice(0, 5)) expect(await isPortFree(port)).toBe(true);
    const second = await pickFreePorts(400);
    expect(second.filter((port) => first.includes(port))).toEqual([]);
  });

  it('a reservation lasts while its holder file exists, and is freed by releasePorts or when the holder goes', async () => {
    const holder = path.join(dir, 'lab.json');
    await writeFile(holder, '{}');
    const [port] = (await pickFreePorts(1, new Set(), holder)) as [number];
    expect(await holdPorts([port], path.join(dir, 'other-lab.json'))).toEqual([port]);
    expect(await holdPorts([port], holder)).toEqual([]); // its own holder may hold it again

    await releasePorts(holder);
    expect(await readdir(process.env.LAB_PORTS_DIR!)).toEqual([]);

    const [again] = (await pickFreePorts(1, new Set(), holder)) as [number];
    await rm(holder);
    // The holder is gone (its instance was removed without releasePorts): the port is free to claim.
    expect(await holdPorts([again], path.join(dir, 'other-lab.json'))).toEqual([]);
  });

  it('a reservation without a holder ends with the process that made it', async () => {
    const reservations = process.env.LAB_PORTS_DIR!;
    const [mine] = (await pickFreePorts(1)) as [number];
    // This process is alive: another holder cannot take its port within the reservation's time.
    expect(await holdPorts([mine], path.join(dir, 'lab.json'))).toEqual([mine]);

    // A picker that exited before binding its port: its reservation is stale at once.
    const child = spawn('true');
    const pid = child.pid!;
    await new Promise((resolve) => child.once('exit', resolve));
    const port = mine === 21_000 ? 21_001 : 21_000;
    await writeFile(path.join(reservations, String(port)), JSON.stringify({ pid, at: Date.now() }));
    expect(await holdPorts([port], path.join(dir, 'lab.json'))).toEqual([]);
  });
});
