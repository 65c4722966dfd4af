/**
 * Pure logic of the panel (no JupyterLab imports), unit-tested with jest.
 */
import { IJob } from './api';

/** States after which a job no longer changes. */
export const FINISHED = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED'
]);

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

export function withExpanded(
  rows: IJob[],
  expanded: ReadonlySet<string>
): IJob[] {
  if (!expanded.size) {
    return rows;
  }
  return rows.flatMap(job =>
    expanded.has(job.job_id) && job.array_task_id
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
