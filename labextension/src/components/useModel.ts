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
