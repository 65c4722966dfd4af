/**
 * Pure logic of the panel (no JupyterLab imports), unit-tested with jest.
 */
import { IEfficiency, IExplanation, IJob, ISbatchOption } from './api';

/** States in which a job ended badly (a notification worth an error). */
export const FAILED = new Set([
  'FAILED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED'
]);

/** States after which a job no longer changes. */
export const FINISHED = new Set(['COMPLETED', 'CANCELLED', ...FAILED]);

export function baseState(state: string): string {
  const space = state.indexOf(' ');
  return space < 0 ? state : state.slice(0, space); // "CANCELLED by 1000": CANCELLED
}

export type SortKey = keyof Pick<
  IJob,
  | 'job_id'
  | 'name'
  | 'user'
  | 'partition'
  | 'state'
  | 'reason'
  | 'time_used'
  | 'time_limit'
  | 'nodes'
  | 'submit_time'
  | 'start_time'
>;

/** Numeric-aware comparison, so job 9 sorts before job 10. */
const collator = new Intl.Collator(undefined, { numeric: true });

/** A value to sort by: `n` when it is a number (NaN when not), else the text `s`. */
interface ISortValue {
  n: number;
  s: string;
}

const WHOLE = /^\d{1,15}$/;
const TIME_KEYS: ReadonlySet<SortKey> = new Set(['time_used', 'time_limit']);

function sortValue(job: IJob, key: SortKey): ISortValue {
  const s = String(job[key] ?? '');
  if (TIME_KEYS.has(key)) {
    // Durations by their length: "1:02:03" after "59:00"; "UNLIMITED" last, "" first.
    const seconds = parseDuration(s);
    return {
      n: seconds ?? (/^(UNLIMITED|INFINITE)$/.test(s) ? Infinity : -1),
      s
    };
  }
  return { n: WHOLE.test(s) ? Number(s) : NaN, s };
}

function compareValues(a: ISortValue, b: ISortValue): number {
  if (!Number.isNaN(a.n) && !Number.isNaN(b.n)) {
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
  }
  return a.s === b.s ? 0 : collator.compare(a.s, b.s);
}

interface IKeyed {
  job: IJob;
  value: ISortValue;
  id: ISortValue;
}

function keyed(job: IJob, key: SortKey): IKeyed {
  return { job, value: sortValue(job, key), id: sortValue(job, 'job_id') };
}

/** A total order: by `key`, then by job id (unique in a listing); descending is its reverse. */
function comparator(ascending: boolean): (a: IKeyed, b: IKeyed) => number {
  const sign = ascending ? 1 : -1;
  return (a, b) =>
    sign * (compareValues(a.value, b.value) || compareValues(a.id, b.id));
}

export function sortJobs(
  jobs: IJob[],
  key: SortKey,
  ascending: boolean
): IJob[] {
  return jobs
    .map(job => keyed(job, key))
    .sort(comparator(ascending))
    .map(k => k.job);
}

/** A sorted listing, kept to sort the next one by what changed only (see `resort`). */
export interface ISorted {
  readonly input: readonly IJob[];
  readonly members: ReadonlySet<IJob>;
  readonly output: IJob[];
  readonly key: SortKey;
  readonly ascending: boolean;
}

function sortedAnew(
  jobs: readonly IJob[],
  key: SortKey,
  ascending: boolean
): ISorted {
  const output = sortJobs([...jobs], key, ascending);
  return { input: jobs, members: new Set(jobs), output, key, ascending };
}

/**
 * `jobs` sorted like `sortJobs` does, reusing `previous`: rows are compared by identity, so
 * unchanged rows (the queue model keeps their objects across updates) keep their order, rows
 * gone are dropped, and only the new ones are sorted and placed by binary search: O(n + k log n)
 * for k new rows instead of O(n log n) (a full sort when many are new). The order is total (ties
 * broken by job id), so the result is exactly a full sort's. A running job sorts by the time
 * used its row came with, not the one shown as its clock advances.
 */
export function resort(
  previous: ISorted | null,
  jobs: readonly IJob[],
  key: SortKey,
  ascending: boolean
): ISorted {
  if (previous?.key !== key || previous.ascending !== ascending) {
    return sortedAnew(jobs, key, ascending);
  }
  if (previous.input === jobs) {
    return previous;
  }
  const compare = comparator(ascending);
  const added: IKeyed[] = [];
  for (const job of jobs) {
    if (!previous.members.has(job)) {
      added.push(keyed(job, key));
      if (added.length > 64 && added.length * 8 > jobs.length) {
        return sortedAnew(jobs, key, ascending); // much is new: a full sort is cheaper
      }
    }
  }
  const members = new Set(jobs);
  added.sort(compare);
  const kept =
    previous.input.length - (jobs.length - added.length) > 0
      ? previous.output.filter(job => members.has(job))
      : previous.output;
  if (!added.length) {
    return { input: jobs, members, output: kept, key, ascending };
  }
  // Each new row's place among the kept ones by binary search (O(log n) comparisons each),
  // then one pass that copies runs of kept rows between them.
  const output: IJob[] = [];
  let from = 0;
  for (const row of added) {
    let lo = from;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(keyed(kept[mid], key), row) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    for (let j = from; j < lo; j++) {
      output.push(kept[j]);
    }
    output.push(row.job);
    from = lo;
  }
  for (let j = from; j < kept.length; j++) {
    output.push(kept[j]);
  }
  return { input: jobs, members, output, key, ascending };
}

/**
 * Seconds in a Slurm duration: "[D-]HH:MM:SS", "MM:SS", "M", "D-HH", "D-HH:MM" (as squeue and
 * sbatch write them); null for anything else ("UNLIMITED", "INVALID", "N/A", "").
 */
export function parseDuration(text: string | null | undefined): number | null {
  const m = /^\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*$/.exec(text ?? '');
  if (!m) {
    return null;
  }
  const [, days, a, b, c] = m;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  let hours: number, minutes: number, seconds: number;
  if (days !== undefined) {
    [hours, minutes, seconds] = [n(a), n(b), n(c)]; // D-H, D-H:M, D-H:M:S
  } else if (c !== undefined) {
    [hours, minutes, seconds] = [n(a), n(b), n(c)]; // H:M:S
  } else {
    [hours, minutes, seconds] = [0, n(a), n(b)]; // M, M:S
  }
  return ((n(days) * 24 + hours) * 60 + minutes) * 60 + seconds;
}

const two = (n: number) => String(n).padStart(2, '0');

/** A duration as squeue writes it: "0:07", "12:34", "1:02:03", "2-01:02:03". */
export function formatDuration(total: number): string {
  const s = Math.max(0, Math.floor(total));
  const days = Math.floor(s / 86400);
  const hours = Math.floor(s / 3600) % 24;
  const minutes = Math.floor(s / 60) % 60;
  const seconds = s % 60;
  if (days) {
    return `${days}-${two(hours)}:${two(minutes)}:${two(seconds)}`;
  }
  if (hours) {
    return `${hours}:${two(minutes)}:${two(seconds)}`;
  }
  return `${minutes}:${two(seconds)}`;
}

/** A queue row as the browser holds it. */
export interface IQueueJob extends IJob {
  /**
   * When (Date.now()) this row arrived in the browser, from which a running job's time_used is
   * advanced (the server sends no change for that alone).
   */
  arrived?: number;
}

/** Whether the time used of `job` moves on by itself (it runs, and its arrival is known). */
export function advancing(job: IQueueJob): boolean {
  return job.arrived !== undefined && baseState(job.state) === 'RUNNING';
}

/**
 * A job's time used at `now`: for a running job, what it had when its row arrived plus the time
 * since (the server does not send a row again for its clock alone); else as Slurm said.
 */
export function timeUsed(job: IQueueJob, now = Date.now()): string {
  if (job.arrived === undefined || !advancing(job)) {
    return job.time_used;
  }
  const base = parseDuration(job.time_used);
  if (base === null) {
    return job.time_used;
  }
  return formatDuration(base + Math.max(0, (now - job.arrived) / 1000));
}

/** What of a queue row makes its details worth asking for again. */
export function rowSignature(job: IJob, now = Date.now()): string {
  const minutes = timeUsed(job, now).replace(/:\d\d$/, '');
  return [job.state, job.reason, job.nodes, job.start_time, minutes].join('|');
}

/**
 * Whether a job's details must be read again: its row changed since the last read (`seen`, its
 * rowSignature then), or the queue shows the job in another state than the details (`shown`,
 * null before the first read). Details can be older than the row that asked for them (the server
 * reuses them for a cache window, and the output tail reads them too), and an ended job's row
 * does not change again for minutes: without the second test a cancel could go unseen.
 */
export function needsReload(
  row: IJob | undefined,
  seen: string | null,
  shown: string | null,
  now = Date.now()
): boolean {
  if ((row ? rowSignature(row, now) : null) !== seen) {
    return true;
  }
  return row !== undefined && shown !== null && baseState(row.state) !== shown;
}

/** Reads of an ended job's details while accounting may still be writing its record. */
export const ACCOUNTING_RETRIES = 6;

/**
 * Whether an ended job's efficiency is as accounting keeps it. Just after a job ends, sacct can
 * show it without its time limit (slurmdbd gets it a moment later), or not at all: no time use
 * and no advice yet. Same rule as the server's Efficiency.complete.
 */
export function efficiencySettled(e: IEfficiency | null): boolean {
  return e !== null && e.time_limit_seconds !== null;
}

/** Task ids of a collapsed pending array, e.g. "0-9%2" or "1,3,5-7" (at most `limit`). */
export function expandTasks(spec: string, limit = 10000): string[] {
  const out: string[] = [];
  for (const part of spec.split('%')[0].split(',')) {
    const [range, step] = part.split(':');
    const [first, last] = range.split('-').map(Number);
    for (
      let t = first;
      t <= (last ?? first) && out.length < limit;
      t += Number(step ?? 1)
    ) {
      out.push(String(t));
    }
  }
  return out;
}

/**
 * Rows with the collapsed pending tasks of the `expanded` arrays (by array id, which survives
 * an action that splits a task out of "12_[3-9]") listed one by one.
 */
export function withExpanded(
  rows: IJob[],
  expanded: ReadonlySet<string>
): IJob[] {
  if (!expanded.size) {
    return rows;
  }
  return rows.flatMap(job =>
    job.job_id.includes('_[') &&
    expanded.has(String(job.array_job_id)) &&
    job.array_task_id
      ? [
          job,
          ...expandTasks(job.array_task_id).map(task => ({
            ...job,
            job_id: `${job.array_job_id}_${task}`,
            array_task_id: task
          }))
        ]
      : [job]
  );
}

export function filterJobs(
  jobs: IJob[],
  state: string,
  partition: string,
  text: string
): IJob[] {
  const needle = text.trim().toLowerCase();
  if (!state && !partition && !needle) {
    return jobs; // the same array: whoever memoizes on it sees nothing changed
  }
  return jobs.filter(
    j =>
      (!state || baseState(j.state) === state) &&
      (!partition || j.partition === partition) &&
      (!needle ||
        `${j.job_id} ${j.name} ${j.user} ${j.reason ?? ''}`
          .toLowerCase()
          .includes(needle))
  );
}

const number = new Intl.NumberFormat('en-US');

function plural(n: number, word: string): string {
  return `${number.format(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** How many tasks a queue row stands for: a collapsed pending array row ("12_[3-9]") is many. */
export function taskCount(job: IJob): number {
  return job.job_id.includes('_[') && job.array_task_id
    ? expandTasks(job.array_task_id).length
    : 1;
}

/**
 * The question a confirm dialog asks before acting on `rows`: counts, not a list of ids, and for
 * pending array tasks, what happens to the array's running tasks (they are not touched).
 */
export function actionQuestion(
  verb: string,
  rows: IJob[],
  all: IJob[]
): string {
  const count = (state: string) =>
    rows
      .filter(j => baseState(j.state) === state)
      .reduce((n, j) => n + taskCount(j), 0);
  const total = rows.reduce((n, j) => n + taskCount(j), 0);
  if (rows.length === 1 && rows[0].job_id.includes('_[')) {
    const row = rows[0];
    const running = all.filter(
      j =>
        j.array_job_id === row.array_job_id && baseState(j.state) === 'RUNNING'
    ).length;
    const left = running
      ? ` The array's ${plural(running, 'running task')} ${running === 1 ? 'is' : 'are'} not affected.`
      : '';
    return `${verb} ${plural(total, 'pending task')} of array ${row.array_job_id} (${row.job_id})?${left}`;
  }
  const parts = [
    ['pending', count('PENDING')],
    ['running', count('RUNNING')]
  ] as const;
  const other = total - parts.reduce((n, [, c]) => n + c, 0);
  const detail = [...parts, ['other', other] as const]
    .filter(([, c]) => c > 0)
    .map(([name, c]) => `${number.format(c)} ${name}`);
  const ids =
    rows.length === 1 ? `job ${rows[0].job_id}` : plural(total, 'job');
  return `${verb} ${ids}${rows.length > 1 ? ` (${detail.join(', ')})` : ''}?`;
}

/** One notification for all the jobs that ended in one poll: "12 jobs completed, 1 failed". */
export function finishedSummary(jobs: IJob[]): {
  text: string;
  kind: 'success' | 'error' | 'info';
} {
  const states = jobs.map(j => baseState(j.state));
  const failed = states.filter(s => FAILED.has(s)).length;
  const completed = states.filter(s => s === 'COMPLETED').length;
  const cancelled = states.filter(s => s === 'CANCELLED').length;
  const kind = failed ? 'error' : completed ? 'success' : 'info';
  if (jobs.length === 1) {
    const [j] = jobs;
    return {
      text: `Slurm job ${j.job_id} (${j.name}) ${states[0].toLowerCase().replace(/_/g, ' ')}`,
      kind
    };
  }
  const rest = jobs.length - failed - completed - cancelled;
  const counts = (
    [
      [completed, 'completed'],
      [failed, 'failed'],
      [cancelled, 'cancelled'],
      [rest, 'ended otherwise']
    ] as const
  ).filter(([n]) => n > 0);
  const parts = counts.map(([n, word], i) =>
    i === 0 ? `${plural(n, 'job')} ${word}` : `${number.format(n)} ${word}`
  );
  return { text: `Slurm: ${parts.join(', ')}`, kind };
}

/** Split ids into batches the API accepts (it takes at most 1,000 per request). */
export function batches<T>(items: T[], size = 1000): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(items.slice(i, i + size));
  }
  return out;
}

/**
 * A pending job's start time is Slurm's estimate (for a job that cannot be scheduled yet,
 * a year ahead): shown as "≈ …" when within a week, else not at all.
 */
export function startShown(job: IJob, now = Date.now()): string {
  if (!job.start_time) {
    return '';
  }
  if (baseState(job.state) !== 'PENDING') {
    return job.start_time;
  }
  const at = Date.parse(job.start_time);
  return at - now < 7 * 24 * 3600 * 1000 ? `≈ ${job.start_time}` : '';
}

const SHORT_STATES: Record<string, string> = {
  PENDING: 'PD',
  RUNNING: 'R',
  COMPLETING: 'CG',
  COMPLETED: 'CD',
  CANCELLED: 'CA',
  FAILED: 'F',
  TIMEOUT: 'TO',
  OUT_OF_MEMORY: 'OOM',
  NODE_FAIL: 'NF',
  BOOT_FAIL: 'BF',
  PREEMPTED: 'PR',
  SUSPENDED: 'S',
  REQUEUED: 'RQ',
  CONFIGURING: 'CF',
  DEADLINE: 'DL'
};

/** squeue's compact state code, for the sidebar's badge. */
export function shortState(state: string): string {
  const base = baseState(state);
  return SHORT_STATES[base] ?? base.slice(0, 3);
}

/**
 * The options a script sets itself with `#SBATCH` lines (flags as the API's option table names
 * them, long or short), by option name. Like sbatch,
 * only the lines before the first command count; the last one of an option wins.
 */
export function scriptDirectives(
  script: string,
  options: ISbatchOption[]
): Record<string, string> {
  const byFlag = new Map<string, ISbatchOption>();
  for (const o of options) {
    byFlag.set(o.flag, o);
    if (o.short) {
      byFlag.set(o.short, o);
    }
  }
  const out: Record<string, string> = {};
  for (const raw of script.split('\n').slice(1)) {
    const line = raw.trim();
    if (!line.startsWith('#')) {
      if (line) {
        break; // the first command ends the directives
      }
      continue;
    }
    const m = /^#SBATCH\s+(-{1,2}[A-Za-z-]+)(?:[=\s]\s*(\S+))?/.exec(line);
    const option = m ? byFlag.get(m[1]) : undefined;
    if (m && option) {
      out[option.name] =
        option.kind === 'switch'
          ? 'true'
          : (m[2] ?? '').replace(/^["']|["']$/g, '');
    }
  }
  return out;
}

/** A row's tooltip: the job, its state and, while it pends, what the reason means. */
export function rowTitle(
  job: IJob,
  explanations: Record<string, IExplanation>
): string {
  const head = `${job.job_id} ${job.name}\n${job.state}${job.reason ? `: ${job.reason}` : ''}`;
  const why = job.reason ? explanations[job.reason] : undefined;
  if (!why) {
    return head;
  }
  return `${head}\n${why.text}${why.action ? `\n${why.action}` : ''}`;
}

/** Where sbatch will write the job's output, shown before submitting (no Slurm call). */
export function outputWhere(
  options: Record<string, string>,
  fallbackDir: string
): string {
  const dir = options.chdir || fallbackDir;
  const file =
    options.output || (options.array ? 'slurm-%A_%a.out' : 'slurm-%j.out');
  return file.startsWith('/') ? file : `${dir.replace(/\/+$/, '')}/${file}`;
}

/** The question before cancelling a whole array: how many running tasks it ends. */
export function wholeArrayQuestion(arrayId: string, all: IJob[]): string {
  const tasks = all.filter(j => String(j.array_job_id) === arrayId);
  const running = tasks.filter(j => baseState(j.state) === 'RUNNING').length;
  const pending = tasks
    .filter(j => baseState(j.state) === 'PENDING')
    .reduce((n, j) => n + taskCount(j), 0);
  return `Cancel all of array ${arrayId}? ${plural(running, 'running task')} will end and ${plural(pending, 'pending task')} will not start.`;
}

/** `root/relative`, keeping root's leading slash (PathExt.join drops it). */
export function underRoot(root: string, relative: string): string {
  const base = root.replace(/\/+$/, '');
  return relative ? `${base}/${relative}` : base;
}

/**
 * The Jupyter contents path of a cluster-side absolute `path` under the Jupyter `root`
 * (`''` for the root itself), or null when it is not under it or the root is unknown.
 */
export function contentsPath(root: string | null, path: string): string | null {
  if (!root || !path.startsWith('/')) {
    return null;
  }
  const base = root.replace(/\/+$/, '');
  if (path === base) {
    return '';
  }
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : null;
}

/**
 * The submit form's start for a job whose script nobody has any more: a stub script and the
 * settings its record shows (`fields` of GET jobs/{id}).
 */
export function copyOfFields(
  jobId: string,
  fields: Record<string, string>
): { script: string; options: Record<string, string> } {
  return {
    script: `#!/bin/bash\n# Copied from job ${jobId}: put its commands here.\n\n`,
    options: Object.fromEntries(
      Object.entries({
        job_name: fields['JobName'],
        partition: fields['Partition'],
        time: fields['TimeLimit'],
        nodes: (fields['NumNodes'] ?? '').split('-')[0],
        chdir: fields['WorkDir']
      }).filter(
        (e): e is [string, string] =>
          !!e[1] && !['UNLIMITED', 'Partition_Limit', '(null)'].includes(e[1])
      )
    )
  };
}

/** Submit options as the form holds them: switches as 'true'. */
export function formOptions(
  options: Record<string, string | boolean>
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== false) {
      out[key] = value === true ? 'true' : value;
    }
  }
  return out;
}
