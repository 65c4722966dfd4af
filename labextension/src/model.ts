/**
 * The queue as the panel sees it, one model per JupyterLab window (browser tab): pushed over one
 * WebSocket (a snapshot, then deltas) while that is up, else polled with ETags, standing by
 * while hidden, backing off on errors, keeping the last data when Slurm is down.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  Action,
  ApiError,
  IActionResult,
  IExplanation,
  IJob,
  IJobTable,
  QueueEvent,
  Scope,
  act,
  fetchJobTable,
  jobEventsMissing,
  openJobEvents,
  submit
} from './api';
import { batches } from './logic';
import { JobStore } from './queuedata';

/** How long a job just submitted is waited for, to select it once it is listed. */
const SELECT_WAIT = 120 * 1000;
/** Reconnecting the events socket: the first wait, doubled after each failure up to the last. */
const RECONNECT_FIRST = 1000;
const RECONNECT_MAX = 60 * 1000;

export class QueueModel {
  constructor(options: { interval: number; scope: Scope; push?: boolean }) {
    this._scope = options.scope;
    this._interval = options.interval;
    this._poll = new Poll({
      factory: () => this._tick(),
      frequency: {
        interval: options.interval * 1000,
        backoff: true,
        max: 300 * 1000
      },
      standby: 'when-hidden',
      name: 'slurm-lab:queue'
    });
    if (options.push ?? true) {
      this._connect();
    }
  }

  /**
   * Every poll interval, changed or not, pushed or polled: for views with data of their own
   * (history, nodes, account).
   */
  get polled(): ISignal<this, void> {
    return this._polled;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Jobs that reached a final state since the previous data. */
  get finished(): ISignal<this, IJob[]> {
    return this._finished;
  }

  /** Asks the panel to select (and show) a job, e.g. one just submitted. */
  get selectRequested(): ISignal<this, string> {
    return this._selectRequested;
  }

  select(jobId: string): void {
    this._selectRequested.emit(jobId);
  }

  /** The listing; a new array after each change of rows, the same one otherwise. */
  get jobs(): IJob[] {
    return this._store.jobs;
  }

  /** The row of `jobId`, if listed. */
  job(jobId: string): IJob | undefined {
    return this._store.get(jobId);
  }

  /** What each pending reason in the listing means (from the server, once per reason). */
  get explanations(): Record<string, IExplanation> {
    return this._store.explanations;
  }

  get fetchedAt(): string | null {
    return this._store.fetchedAt;
  }

  /** True when the data shown are the last good data, not current ones. */
  get stale(): boolean {
    return this._error !== null && this._store.loaded;
  }

  get error(): ApiError | null {
    return this._error;
  }

  /** True while the queue is pushed to this window (not polled). */
  get live(): boolean {
    return this._live;
  }

  get scope(): Scope {
    return this._scope;
  }

  set scope(scope: Scope) {
    if (scope !== this._scope) {
      this._scope = scope;
      this._etag = null;
      this._baseline = false; // another listing: nothing in it "just" finished
      this._store.version = null; // the stream's versions are those of the other listing
      if (this._socketOpen()) {
        this._subscribe(); // live again once its snapshot is in
      } else {
        this._live = false;
        void this.refresh();
      }
    }
  }

  set interval(seconds: number) {
    this._interval = seconds;
    this._align();
  }

  /**
   * Cancel, hold or release exactly these ids (a collapsed row "12_[3-9]" is those tasks), in
   * batches the API accepts; one result per id, then one refresh.
   */
  async act(action: Action, ids: string[]): Promise<IActionResult[]> {
    const results: IActionResult[] = [];
    try {
      for (const batch of batches(ids)) {
        try {
          results.push(...(await act(action, batch)).results);
        } catch (reason) {
          const message =
            reason instanceof ApiError ? reason.message : String(reason);
          results.push(
            ...batch.map(job_id => ({ job_id, ok: false, message, reason: '' }))
          );
        }
      }
    } finally {
      void this.refresh();
    }
    return results;
  }

  /**
   * Submit a batch script; a retry with the same `idempotencyKey` returns the first job and
   * never makes a second. Resolves with the job id as soon as Slurm took it; the queue is then
   * refreshed and the new job selected as soon as it is listed (polled or pushed), if that is
   * within two minutes.
   */
  async submit(
    script: string,
    options: Record<string, string | number | boolean>,
    idempotencyKey: string
  ): Promise<string> {
    const { job_id } = await submit(script, options, idempotencyKey);
    this._awaited.set(job_id, Date.now() + SELECT_WAIT);
    this._selectArrived();
    void this.refresh();
    return job_id;
  }

  /** Ask now (the server still answers from its shared cache when fresh). */
  refresh(): Promise<void> {
    if (this._live) {
      // Subscribing again would bring the listing last pushed, not a newer one; a GET waits
      // for the listing that shows this server's last submit or action.
      return this._fetch(true).catch(() => undefined);
    }
    return this._poll.refresh();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._reconnectTimer);
    this._closeSocket();
    void this._poll.stop(); // clears the next poll's timer, which Poll.dispose leaves pending
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * Schedule the next poll at the next wall-clock multiple of the interval: every tab (and every
   * user) then asks within the same server cache window, so N tabs cost slurmctld one squeue.
   */
  private _align(): void {
    const period = this._interval * 1000;
    const wait = period - (Date.now() % period) + Math.random() * 200;
    this._poll.frequency = {
      ...this._poll.frequency,
      interval: Math.max(1000, wait)
    };
  }

  /** One poll: the queue fetched unless it is pushed; `polled` either way. */
  private async _tick(): Promise<void> {
    this._align();
    if (this._live) {
      this._selectArrived(); // lets a wait time out
      this._polled.emit();
      return;
    }
    await this._fetch();
  }

  /** A GET of the listing; `force`: even while it is pushed. */
  private async _fetch(force = false): Promise<void> {
    const scope = this._scope;
    try {
      const answer = await fetchJobTable(scope, this._etag);
      if (scope !== this._scope || (this._live && !force)) {
        this._polled.emit(); // another listing, or pushed meanwhile: these data are not news
        return;
      }
      if (answer !== null) {
        if (!this._live) {
          this._store.version = null; // no delta applies to these data
        }
        // While pushed, the stream's version stays: the next delta's changes are in these data.
        this._reportFinished(this._store.replace(answer.table));
        this._etag = answer.etag;
      }
      const hadError = this._error !== null;
      this._error = null;
      if (answer !== null || hadError) {
        this._changed.emit();
      }
      this._selectArrived();
      this._polled.emit();
    } catch (reason) {
      if (scope !== this._scope || this._live) {
        this._polled.emit(); // the data shown are not these
        return;
      }
      this._error =
        reason instanceof ApiError
          ? reason
          : new ApiError(0, String(reason), 'network_error');
      const body = this._error.body as Partial<IJobTable> | null;
      if (
        body &&
        Array.isArray(body.fields) &&
        Array.isArray(body.rows) &&
        !this._store.loaded
      ) {
        // The server's last good data, marked stale.
        this._store.version = null;
        this._reportFinished(
          this._store.replace({
            fields: body.fields,
            rows: body.rows,
            explanations: body.explanations ?? {},
            fetched_at: body.fetched_at ?? ''
          })
        );
      }
      this._changed.emit();
      this._polled.emit();
      throw reason; // lets the Poll back off
    }
  }

  private _reportFinished(finished: IJob[]): void {
    if (!this._baseline) {
      this._baseline = true;
      return; // the first listing of this scope: nothing "just" finished
    }
    if (finished.length) {
      this._finished.emit(finished);
    }
  }

  /** Select each job waited for that is now listed; forget those waited for too long. */
  private _selectArrived(): void {
    if (!this._awaited.size) {
      return;
    }
    const now = Date.now();
    for (const [jobId, deadline] of [...this._awaited]) {
      if (this._store.has(jobId)) {
        this._awaited.delete(jobId);
        this.select(jobId);
      } else if (now > deadline) {
        this._awaited.delete(jobId);
      }
    }
  }

  // The events socket.

  private _socketOpen(): boolean {
    return this._socket?.readyState === 1; // WebSocket.OPEN
  }

  private _send(message: { subscribe: Scope }): void {
    this._socket?.send(JSON.stringify(message));
  }

  /** Ask for the current scope: a snapshot comes, then deltas. */
  private _subscribe(): void {
    this._awaitingSnapshot = true;
    this._send({ subscribe: this._scope });
  }

  private _connect(): void {
    if (this._disposed || this._pushOff) {
      return;
    }
    let socket: WebSocket | null;
    try {
      socket = openJobEvents();
    } catch {
      socket = null;
    }
    if (!socket) {
      this._pushOff = true; // no WebSockets here: polling it is
      return;
    }
    this._socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this._subscribe();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data === 'string') {
        this._onEvent(event.data);
      }
    };
    socket.onclose = () => {
      if (this._socket !== socket) {
        return;
      }
      this._socket = null;
      void this._onClose(opened);
    };
  }

  private _closeSocket(): void {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
    }
  }

  /** The socket closed (or never opened): poll at once, and connect again later. */
  private async _onClose(opened: boolean): Promise<void> {
    const wasLive = this._live;
    this._live = false;
    this._awaitingSnapshot = false;
    this._store.version = null;
    if (wasLive && !this._disposed) {
      void this._poll.refresh();
    }
    if (!opened && (await jobEventsMissing())) {
      this._pushOff = true; // a server without the events route: polling it is
      return;
    }
    if (this._disposed) {
      return;
    }
    const wait = this._reconnectWait;
    this._reconnectWait = Math.min(RECONNECT_MAX, wait * 2);
    this._reconnectTimer = setTimeout(() => this._connect(), wait);
  }

  private _onEvent(data: string): void {
    let event: QueueEvent;
    try {
      event = JSON.parse(data) as QueueEvent;
    } catch {
      return;
    }
    if (event.scope !== this._scope) {
      return; // for a subscription since replaced
    }
    this._reconnectWait = RECONNECT_FIRST; // this socket works
    if (event.type === 'snapshot') {
      this._awaitingSnapshot = false;
      this._reportFinished(this._store.snapshot(event, event.version));
      this._fresh(event.stale);
    } else if (event.type === 'delta') {
      if (this._awaitingSnapshot) {
        return; // a fresh snapshot is on its way
      }
      const finished = this._store.apply(event);
      if (finished === null) {
        this._subscribe(); // not at its base: start again from a snapshot
        return;
      }
      this._reportFinished(finished);
      this._fresh(event.stale);
    } else if (event.type === 'error') {
      this._error = new ApiError(503, event.message, event.reason, event);
      this._changed.emit();
    }
  }

  /** Pushed data came in: live, and unless marked stale, no longer in error. */
  private _fresh(stale: boolean): void {
    this._live = true;
    this._etag = null; // the polled listing's tag no longer names these data
    if (!stale) {
      this._error = null;
    }
    this._changed.emit();
    this._selectArrived();
  }

  private _poll: Poll;
  private _scope: Scope;
  private _interval: number;
  private _etag: string | null = null;
  private _baseline = false;
  private _store = new JobStore();
  private _error: ApiError | null = null;
  private _awaited = new Map<string, number>();
  private _socket: WebSocket | null = null;
  private _live = false;
  private _awaitingSnapshot = false;
  private _pushOff = false;
  private _reconnectWait = RECONNECT_FIRST;
  private _reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _polled = new Signal<this, void>(this);
  private _finished = new Signal<this, IJob[]>(this);
  private _selectRequested = new Signal<this, string>(this);
}
