/**
 * Pure logic of the panel (no JupyterLab imports), unit-tested with jest.
 */
import { IExplanation, IJob, ISbatchOption } from './api';

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
  return state.split(' ')[0];
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

export function sortJobs(
  jobs: IJob[],
  key: SortKey,
  ascending: boolean
): IJob[] {
  const sorted = [...jobs].sort((a, b) =>
    collator.compare(String(a[key] ?? ''), String(b[key] ?? ''))
  );
  return ascending ? sorted : sorted.reverse();
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
