// Two tabs and one run: the tab that trains holds the run's Web Lock, a second tab that opens the
// notebook leaves the run 'running' (not interrupted) and settles it when the lock is let go. The
// locks here are an in-memory lock manager with the Web Locks semantics MedRank uses (exclusive,
// ifAvailable, query), shared by the "tabs" as the browser shares one per origin.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { openNotebookDb } from '../../src/notebook/db';
import { heldRuns, holdRunLock, runLockName, whenRunReleased, type LocksLike } from '../../src/notebook/locks';
import { runMeta } from './notebook-fixtures';

/** Exclusive locks by name: a request waits (or, ifAvailable, gets null) while another holds it. */
function fakeLocks(): LocksLike {
  const held = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();
  const grant = async (name: string, cb: (lock: unknown) => Promise<void> | void): Promise<void> => {
    held.add(name);
    try {
      await cb({ name });
    } finally {
      held.delete(name);
      waiting.get(name)?.shift()?.();
    }
  };
  return {
    async request(name, options, cb) {
      if (held.has(name)) {
        if (options.ifAvailable) return cb(null);
        await new Promise<void>((r) => waiting.set(name, [...(waiting.get(name) ?? []), r]));
      }
      return grant(name, cb);
    },
    async query() {
      return { held: [...held].map((name) => ({ name })) };
    },
  };
}

describe('run locks', () => {
  it('one tab holds a run; the other cannot take it, sees it held, and is told when it is let go', async () => {
    const locks = fakeLocks();
    const release = await holdRunLock('r1', locks);
    expect(release).toBeTypeOf('function');
    expect(await holdRunLock('r1', locks)).toBeNull();
    expect([...(await heldRuns(locks))]).toEqual(['r1']);
    let settled = false;
    const waiting = whenRunReleased('r1', locks).then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    release!();
    await waiting;
    expect(settled).toBe(true);
    expect([...(await heldRuns(locks))]).toEqual([]);
    expect(runLockName('r1')).toBe('medrank-run:r1');
  });

  it('without the Web Locks API a run is always free and nothing is held', async () => {
    expect(await holdRunLock('r1', null)).toBeTypeOf('function');
    expect((await heldRuns(null)).size).toBe(0);
    await expect(whenRunReleased('r1', null)).resolves.toBeUndefined();
  });

  it('a second tab opening the notebook leaves a run the first tab trains running, and settles it when the first tab closes', async () => {
    const factory = new IDBFactory();
    const locks = fakeLocks();
    const open = () => openNotebookDb({ idbFactory: factory, name: 't', liveRuns: () => heldRuns(locks) });
    const first = await open();
    await first.putRun(runMeta('live', 'nb1', { status: 'running' }));
    await first.putRun(runMeta('lost', 'nb1', { status: 'running' }));
    const release = await holdRunLock('live', locks);

    const second = await open();
    expect(second.elsewhere).toEqual(['live']);
    expect(second.interrupted).toEqual(['lost']);
    expect((await second.getRun('live'))?.status).toBe('running');
    expect((await second.getRun('lost'))?.status).toBe('interrupted');

    // The first tab closes mid-run: the lock goes with it, the run on disk still says running.
    const settled = whenRunReleased('live', locks).then(() => second.settleRun('live'));
    release!();
    expect((await settled)?.status).toBe('interrupted');

    // A run the first tab finished before letting go keeps its status.
    await first.putRun(runMeta('done', 'nb1', { status: 'done' }));
    expect((await second.settleRun('done'))?.status).toBe('done');
    expect(await second.settleRun('missing')).toBeNull();
    first.close();
    second.close();
  });
});
