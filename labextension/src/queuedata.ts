/**
 * The queue as the browser holds it: rows of the compact table encoding decoded into jobs (by
 * the field names the server sends, never by position), kept by job id, replaced by a snapshot
 * and changed by deltas. Pure (no JupyterLab imports), unit-tested with jest.
 */
import { Cell, IExplanation, IJob } from './api';
import { baseState, FINISHED, IQueueJob } from './logic';

/** A decoder of rows laid out as `fields` into jobs arriving at `arrived`. */
export type RowDecoder = (row: readonly Cell[], arrived: number) => IQueueJob;

function text(value: Cell | undefined): string {
  return typeof value === 'string'
    ? value
    : value === null || value === undefined
      ? ''
      : String(value);
}

function textOrNull(value: Cell | undefined): string | null {
  return typeof value === 'string'
    ? value
    : value === null || value === undefined
      ? null
      : String(value);
}

function numberOrNull(value: Cell | undefined): number | null {
  return typeof value === 'number'
    ? value
    : value === null || value === undefined || value === ''
      ? null
      : Number(value);
}

function count(value: Cell | undefined): number {
  return typeof value === 'number' ? value : Number(value ?? 0) || 0;
}

/**
 * A decoder for rows laid out as `fields`. Each job is one object literal of a fixed shape (fast
 * to make and to read); a field the server does not send is empty, one it sends that a job
 * does not have is left out.
 */
export function rowDecoder(fields: readonly string[]): RowDecoder {
  // A field not sent reads past the row's end: undefined, an empty value. (Not at -1: that is
  // a named property to V8, a slow lookup, where past the end is a fast element load.)
  const at = (name: keyof IJob) => {
    const index = fields.indexOf(name);
    return index < 0 ? fields.length : index;
  };
  const id = fields.indexOf('job_id');
  if (id < 0) {
    throw new Error('the queue table has no job_id field');
  }
  const [arrayJob, arrayTask, name, user, userId, account, partition] = [
    at('array_job_id'),
    at('array_task_id'),
    at('name'),
    at('user'),
    at('user_id'),
    at('account'),
    at('partition')
  ];
  const [state, reason, submit, start, end, used, limit] = [
    at('state'),
    at('reason'),
    at('submit_time'),
    at('start_time'),
    at('end_time'),
    at('time_used'),
    at('time_limit')
  ];
  const [numNodes, numCpus, nodes, workDir, stdout, stderr, qos] = [
    at('num_nodes'),
    at('num_cpus'),
    at('nodes'),
    at('work_dir'),
    at('stdout_path'),
    at('stderr_path'),
    at('qos')
  ];
  return (r, arrived) => ({
    job_id: text(r[id]),
    array_job_id: numberOrNull(r[arrayJob]),
    array_task_id: textOrNull(r[arrayTask]),
    name: text(r[name]),
    user: text(r[user]),
    user_id: numberOrNull(r[userId]),
    account: textOrNull(r[account]),
    partition: text(r[partition]),
    state: text(r[state]),
    reason: textOrNull(r[reason]),
    submit_time: textOrNull(r[submit]),
    start_time: textOrNull(r[start]),
    end_time: textOrNull(r[end]),
    time_used: text(r[used]),
    time_limit: textOrNull(r[limit]),
    num_nodes: count(r[numNodes]),
    num_cpus: count(r[numCpus]),
    nodes: textOrNull(r[nodes]),
    work_dir: textOrNull(r[workDir]),
    stdout_path: textOrNull(r[stdout]),
    stderr_path: textOrNull(r[stderr]),
    qos: textOrNull(r[qos]),
    arrived
  });
}

/** Jobs of a table: `rows` laid out as `fields`. */
export function decodeTable(
  fields: readonly string[],
  rows: readonly (readonly Cell[])[],
  arrived = Date.now()
): IQueueJob[] {
  const decode = rowDecoder(fields);
  const jobs = new Array<IQueueJob>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    jobs[i] = decode(rows[i], arrived);
  }
  return jobs;
}

/** Whether a job that was `before` (undefined: not listed) is `after` newly finished. */
function newlyFinished(before: IJob | undefined, after: IJob): boolean {
  return (
    FINISHED.has(baseState(after.state)) &&
    (before === undefined || !FINISHED.has(baseState(before.state)))
  );
}

/** A whole listing in the table encoding. */
export interface ITable {
  fields: readonly string[];
  rows: readonly (readonly Cell[])[];
  explanations: Record<string, IExplanation>;
  fetched_at: string;
}

/** What a delta asks: rows to add or replace, job ids to drop. */
export interface IChanges {
  upsert: readonly (readonly Cell[])[];
  remove: readonly string[];
  explanations?: Record<string, IExplanation>;
  fetched_at?: string;
}

/**
 * The jobs of one listing, by job id. `jobs` is a new array after each change that changed rows
 * (and the same array otherwise); the objects of rows that did not change are kept, so a view
 * can tell what changed by identity.
 */
export class JobStore {
  /** Whether any listing came in yet. */
  get loaded(): boolean {
    return this._loaded;
  }

  get jobs(): IQueueJob[] {
    return this._jobs;
  }

  get explanations(): Record<string, IExplanation> {
    return this._explanations;
  }

  get fetchedAt(): string | null {
    return this._fetchedAt;
  }

  /** The version of the push stream these data are at; null when they came otherwise. */
  get version(): string | null {
    return this._version;
  }

  set version(version: string | null) {
    this._version = version;
  }

  get(jobId: string): IQueueJob | undefined {
    return this._byId.get(jobId);
  }

  /**
   * Whether job `jobId` is listed: by its id, or, for an array, by any of its tasks' rows
   * ("42_[0-9]", "42_0").
   */
  has(jobId: string): boolean {
    return (
      this._byId.has(jobId) ||
      this._jobs.some(
        j => j.array_job_id !== null && `${j.array_job_id}` === jobId
      )
    );
  }

  /**
   * Replace everything with the table `rows` laid out as `fields` (a polled listing); the stream
   * version and the layout of its deltas stay. Returns the jobs that finished since the
   * previous data (listed unfinished before, or not listed).
   */
  replace(table: ITable, now = Date.now()): IQueueJob[] {
    const decode = rowDecoder(table.fields);
    const jobs = new Array<IQueueJob>(table.rows.length);
    const byId = new Map<string, IQueueJob>();
    const finished: IQueueJob[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = decode(table.rows[i], now);
      jobs[i] = job;
      byId.set(job.job_id, job);
      if (
        this._loaded &&
        FINISHED.has(baseState(job.state)) &&
        newlyFinished(this._byId.get(job.job_id), job)
      ) {
        finished.push(job);
      }
    }
    this._jobs = jobs;
    this._byId = byId;
    this._explanations = table.explanations ?? {};
    this._fetchedAt = table.fetched_at;
    this._loaded = true;
    return finished;
  }

  /**
   * Replace everything with a pushed snapshot at `version`, whose `fields` lay out the rows of
   * the deltas that follow it (see `replace`).
   */
  snapshot(table: ITable, version: string, now = Date.now()): IQueueJob[] {
    const finished = this.replace(table, now);
    this._decode = rowDecoder(table.fields);
    this._version = version;
    return finished;
  }

  /**
   * Apply a delta from `base` to `version`: upserted rows (laid out as the last snapshot's
   * fields) replace the rows of their job id or are added at the end, removed ids are dropped,
   * explanations are merged. Returns the jobs that finished in it, or null (nothing applied)
   * when the data held are not at `base`.
   */
  apply(
    delta: IChanges & { base: string; version: string },
    now = Date.now()
  ): IQueueJob[] | null {
    if (this._version === null || delta.base !== this._version) {
      return null;
    }
    const finished = this.change(delta, now);
    this._version = delta.version;
    return finished;
  }

  /**
   * Apply `changes` (rows laid out as the last snapshot's) whatever the version (see `apply`);
   * the jobs that finished in them.
   */
  change(changes: IChanges, now = Date.now()): IQueueJob[] {
    const decode = this._decode;
    const edits = new Map<string, IQueueJob | null>();
    if (decode) {
      for (const row of changes.upsert) {
        const job = decode(row, now);
        edits.set(job.job_id, job);
      }
    }
    for (const id of changes.remove) {
      edits.set(String(id), null);
    }
    const finished: IQueueJob[] = [];
    if (edits.size) {
      const jobs: IQueueJob[] = [];
      for (const job of this._jobs) {
        const edit = edits.get(job.job_id);
        if (edit === undefined) {
          jobs.push(job);
        } else if (edit !== null) {
          jobs.push(edit);
        }
      }
      for (const [id, edit] of edits) {
        const before = this._byId.get(id);
        if (edit === null) {
          this._byId.delete(id);
          continue;
        }
        if (before === undefined) {
          jobs.push(edit);
        }
        if (newlyFinished(before, edit)) {
          finished.push(edit);
        }
        this._byId.set(id, edit);
      }
      this._jobs = jobs;
    }
    if (changes.explanations && Object.keys(changes.explanations).length) {
      this._explanations = {
        ...this._explanations,
        ...changes.explanations
      };
    }
    if (changes.fetched_at) {
      this._fetchedAt = changes.fetched_at;
    }
    return finished;
  }

  private _loaded = false;
  private _jobs: IQueueJob[] = [];
  private _byId = new Map<string, IQueueJob>();
  private _explanations: Record<string, IExplanation> = {};
  private _fetchedAt: string | null = null;
  private _version: string | null = null;
  private _decode: RowDecoder | null = null;
}
