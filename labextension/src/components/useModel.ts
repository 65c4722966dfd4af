/**
 * The one way components follow the QueueModel: a Lumino signal connected for the component's
 * lifetime, and a re-render on every change of the queue.
 */
import { ISignal } from '@lumino/signaling';
import { useEffect, useRef, useState } from 'react';

import { QueueModel } from '../model';

/**
 * Call `slot` on every emission of `signal` while the component is mounted. The slot of the
 * latest render is called, so it may read that render's props and state; the signal is
 * connected once (again only when `signal` itself changes).
 */
export function useSignal<T, U>(
  signal: ISignal<T, U>,
  slot: (sender: T, args: U) => void
): void {
  const latest = useRef(slot);
  latest.current = slot;
  useEffect(() => {
    const call = (sender: T, args: U) => latest.current(sender, args);
    signal.connect(call);
    return () => {
      signal.disconnect(call);
    };
  }, [signal]);
}

/**
 * Re-render the component whenever `model` changes (new listing, error or recovery).
 * Returns a counter that moves with each change, for effects that depend on it.
 */
export function useModel(model: QueueModel): number {
  const [version, setVersion] = useState(0);
  useSignal(model.changed, () => setVersion(v => v + 1));
  return version;
}

/**
 * Data of a view's own (history, nodes, account): fetched now, again on every poll of `model`
 * (changed or not), when `deps` change, and on `refresh()`. The last data stay while a fetch
 * fails; `error` says why until one succeeds.
 */
export function usePolledFetch<T>(
  model: QueueModel,
  fetch: () => Promise<T>,
  deps: readonly unknown[]
): { data: T | null; error: string | null; refresh: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const refresh = () => setVersion(v => v + 1);
  useSignal(model.polled, refresh);
  useEffect(() => {
    let stopped = false;
    fetch()
      .then(value => {
        if (!stopped) {
          setData(value);
          setError(null);
        }
      })
      .catch(e => !stopped && setError(String(e.message ?? e)));
    return () => {
      stopped = true;
    };
  }, [...deps, version]);
  return { data, error, refresh };
}
