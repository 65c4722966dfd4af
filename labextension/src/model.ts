/**
 * The queue as the panel sees it: one Lumino Poll per JupyterLab window, revalidated with ETags,
 * standing by while hidden, backing off on errors, keeping the last data when Slurm is down.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import {
  Action,
  ApiError,
  IActionResult,
  IExplanation,
  IJob,
  IJobList,
  Scope,
  act,
  fetchJobs,
  submit
} from './api';
import { baseState, batches, FINISHED } from './logic';

export class QueueModel {
  constructor(options: { interval: number; scope: Scope }) {
    this._scope = options.scope;
    this._interval = options.interval;
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: {
        interval: options.interval * 1000,
        backoff: true,
        max: 300 * 1000
      },
      standby: 'when-hidden',
      name: 'slurm-lab:queue'
    });
  }

  /** Every poll, changed or not: for views with data of their own (history, nodes). */
  get polled(): ISignal<this, void> {
    return this._polled;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Jobs that reached a final state since the previous poll. */
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

  get jobs(): IJob[] {
    return this._list?.jobs ?? [];
  }

  /** What each pending reason in the listing means (from the server, once per reason). */
  get explanations(): Record<string, IExplanation> {
    return this._list?.explanations ?? {};
  }

  get fetchedAt(): string | null {
    return this._list?.fetched_at ?? null;
  }

  /** True when the data shown are the last good data, not current ones. */
  get stale(): boolean {
    return this._error !== null && this._list !== null;
  }

  get error(): ApiError | null {
    return this._error;
  }

  get scope(): Scope {
    return this._scope;
  }

  set scope(scope: Scope) {
    if (scope !== this._scope) {
      this._scope = scope;
      this._etag = null;
      this._baseline = false; // another listing: nothing in it "just" finished
      void this.refresh();
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
   * refreshed and the new job selected once that listing is in (so its rows are there).
   */
  async submit(
    script: string,
    options: Record<string, string | number | boolean>,
    idempotencyKey: string
  ): Promise<string> {
    const { job_id } = await submit(script, options, idempotencyKey);
    void this.refresh()
      .then(() => this._poll.tick) // Poll.refresh resolves before the fetch; tick after it
      .then(
        () => this.select(job_id),
        () => undefined // disposed meanwhile
      );
    return job_id;
  }

  /** Ask now (the server still answers from its shared cache when fresh). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
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

  private async _fetch(): Promise<void> {
    this._align();
    try {
      const answer = await fetchJobs(this._scope, this._etag);
      if (answer !== null) {
        this._detectFinished(answer.list);
        this._list = answer.list;
        this._etag = answer.etag;
      }
      const hadError = this._error !== null;
      this._error = null;
      if (answer !== null || hadError) {
        this._changed.emit();
      }
      this._polled.emit();
    } catch (reason) {
      this._error =
        reason instanceof ApiError
          ? reason
          : new ApiError(0, String(reason), 'network_error');
      const body = this._error.body as IJobList | null;
      if (body && Array.isArray(body.jobs) && this._list === null) {
        this._list = body; // the server's last good data, marked stale
      }
      this._changed.emit();
      this._polled.emit();
      throw reason; // lets the Poll back off
    }
  }

  /**
   * Jobs that finished since the previous listing: those seen unfinished before, and those not
   * listed before at all (the listing holds every job the controller remembers, so a job absent
   * last time is new; a short one can start and end between two polls).
   */
  private _detectFinished(next: IJobList): void {
    if (this._list === null || !this._baseline) {
      this._baseline = true;
      return; // first listing of this scope: nothing "just" finished
    }
    const before = new Map(
      this._list.jobs.map(j => [j.job_id, baseState(j.state)])
    );
    const done: IJob[] = [];
    for (const job of next.jobs) {
      const was = before.get(job.job_id);
      if (
        (was === undefined || !FINISHED.has(was)) &&
        FINISHED.has(baseState(job.state))
      ) {
        done.push(job);
      }
    }
    if (done.length) {
      this._finished.emit(done);
    }
  }

  private _poll: Poll;
  private _scope: Scope;
  private _interval: number;
  private _etag: string | null = null;
  private _baseline = false;
  private _list: IJobList | null = null;
  private _error: ApiError | null = null;
  private _changed = new Signal<this, void>(this);
  private _polled = new Signal<this, void>(this);
  private _finished = new Signal<this, IJob[]>(this);
  private _selectRequested = new Signal<this, string>(this);
}
