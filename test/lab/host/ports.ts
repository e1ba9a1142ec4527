/**
 * Free TCP ports for lab instances, reserved machine-wide. The lab's host shares this machine's
 * network, so every port it listens on (sshd, the release mirror, Vault's API and cluster ports) is
 * chosen per instance, and so are the ports of each cluster's etcd, proxy and pods.
 *
 * Ports come from 20000–32767, below Linux's default ephemeral range (32768–60999,
 * https://www.kernel.org/doc/html/latest/networking/ip-sysctl.html ip_local_port_range), so an
 * outgoing connection made between choosing a port and binding it cannot take it.
 *
 * "Nothing listens there" is not enough on its own: an instance's Vault ports are chosen when the
 * instance starts and bound only when a test installs Vault, minutes later, and in that window
 * another instance (or a cluster's pod) found them free. Each chosen port is therefore reserved by
 * a file created with O_EXCL in one directory for the machine: until a holder file is gone (an
 * instance's lab.json, for ports bound late) or for RESERVE_MS (ports bound at once).
 */
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';
import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const FIRST = 20_000;
const LAST = 32_767;
/** How long a port reserved without a holder stays reserved: its picker binds it within seconds. */
const RESERVE_MS = 120_000;

/** The machine's reservation directory (LAB_PORTS_DIR overrides it, for tests of this file). */
export function reservationsDir(): string {
  return process.env.LAB_PORTS_DIR ?? path.join(tmpdir(), 'picluster-vault-tui-lab-ports');
}

interface Reservation {
  pid: number;
  at: number;
  /** The reservation lasts while this file exists. */
  holder?: string;
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when nothing listens on `port`, on the wildcard address nor on loopback. */
export async function isPortFree(port: number): Promise<boolean> {
  // On Linux a wildcard bind conflicts with a specific one and vice versa: checking both catches
  // listeners on 127.0.0.1 only and on every address.
  return (await canListen(port, '0.0.0.0')) && (await canListen(port, '127.0.0.1'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function stale(reservation: Reservation | undefined): Promise<boolean> {
  if (!reservation) return true; // unreadable or half-written: its writer failed
  if (reservation.holder !== undefined) return !(await exists(reservation.holder));
  return Date.now() - reservation.at > RESERVE_MS || !alive(reservation.pid);
}

async function readReservation(file: string): Promise<Reservation | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Reservation;
  } catch {
    return undefined;
  }
}

/**
 * Reserves `port` for `holder` (or for RESERVE_MS without one). False when another live reservation
 * holds it. A stale reservation is removed and the claim retried once: of two processes that both
 * remove it, the O_EXCL create lets one win.
 */
async function reserve(port: number, holder: string | undefined): Promise<boolean> {
  const dir = reservationsDir();
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const file = path.join(dir, String(port));
  const mine: Reservation = { pid: process.pid, at: Date.now(), ...(holder !== undefined ? { holder } : {}) };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, JSON.stringify(mine), { flag: 'wx', mode: 0o644 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readReservation(file);
    if (holder !== undefined && current?.holder === holder) return true;
    if (!(await stale(current))) return false;
    await unlink(file).catch(() => undefined);
  }
  return false;
}

/**
 * Picks `count` distinct free ports, none of them in `taken` nor reserved by anyone else, and
 * reserves them: while `holder` exists when it is given (ports bound later), else for a while.
 */
export async function pickFreePorts(count: number, taken: ReadonlySet<number> = new Set(), holder?: string): Promise<number[]> {
  const chosen: number[] = [];
  for (let attempt = 0; chosen.length < count; attempt++) {
    if (attempt > 500) throw new Error(`found only ${chosen.length} of ${count} free ports in ${FIRST}-${LAST}`);
    const port = randomInt(FIRST, LAST + 1);
    if (taken.has(port) || chosen.includes(port)) continue;
    if (!(await isPortFree(port))) continue;
    if (await reserve(port, holder)) chosen.push(port);
  }
  return chosen;
}

/**
 * Reserves ports an instance already uses for `holder` again (a lab that is reused after the
 * reservation directory was cleared). Returns the ports someone else holds now.
 */
export async function holdPorts(ports: readonly number[], holder: string): Promise<number[]> {
  const lost: number[] = [];
  for (const port of ports) if (!(await reserve(port, holder))) lost.push(port);
  return lost;
}

/** Drops every reservation `holder` has (its instance is going away), and any that went stale. */
export async function releasePorts(holder: string): Promise<void> {
  const dir = reservationsDir();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const file = path.join(dir, name);
    const reservation = await readReservation(file);
    if (reservation?.holder === holder || (reservation !== undefined && (await stale(reservation)))) await unlink(file).catch(() => undefined);
  }
}
