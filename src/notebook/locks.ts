// One tab trains a run at a time: while a tab trains, it holds the run's Web Lock
// ('medrank-run:<id>'). Another tab that opens the notebook sees the lock held, so the run is
// "running in another tab", not interrupted; it waits for the lock and re-reads the run when the
// training tab lets go (it finished, or it closed: then the run on disk is still 'running' and
// only now is it interrupted). Where the Web Locks API is missing (Node in tests, very old
// browsers) nothing is held and every 'running' run found at open is interrupted, as before.

/** The lock a training tab holds for run `id`. */
export const runLockName = (id: string): string => `medrank-run:${id}`;
const PREFIX = 'medrank-run:';

interface LockInfo {
  name?: string;
}
export interface LocksLike {
  request(
    name: string,
    options: { mode?: 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<unknown>;
  query(): Promise<{ held?: LockInfo[]; pending?: LockInfo[] }>;
}

/** The page's lock manager, or null where there is none. */
export function pageLocks(): LocksLike | null {
  const nav = (globalThis as { navigator?: { locks?: LocksLike } }).navigator;
  return nav?.locks ?? null;
}

/**
 * Hold run `id`'s lock until the returned release is called. Resolves once held; resolves to
 * null when another tab holds it (that tab is training the run).
 */
export async function holdRunLock(id: string, locks: LocksLike | null = pageLocks()): Promise<(() => void) | null> {
  if (!locks) return () => {};
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const held = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(runLockName(id), { mode: 'exclusive', ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : released;
      })
      .catch(reject);
  });
  return held ? release : null;
}

/** Ids of the runs whose lock some tab holds now. */
export async function heldRuns(locks: LocksLike | null = pageLocks()): Promise<Set<string>> {
  if (!locks) return new Set();
  const { held = [] } = await locks.query();
  return new Set(held.flatMap((l) => (l.name?.startsWith(PREFIX) ? [l.name.slice(PREFIX.length)] : [])));
}

/** Resolves when no tab holds run `id`'s lock (at once where there are no locks). */
export async function whenRunReleased(id: string, locks: LocksLike | null = pageLocks()): Promise<void> {
  if (!locks) return;
  await locks.request(runLockName(id), { mode: 'exclusive' }, () => undefined);
}
