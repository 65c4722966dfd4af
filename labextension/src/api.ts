/**
 * The one client of the slurm-lab REST API (`{base_url}slurm-lab/api/`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type Scope = 'mine' | 'all';
export type Action = 'cancel' | 'hold' | 'release';

export interface IJob {
  job_id: string;
  array_job_id: number | null;
  array_task_id: string | null;
  name: string;
  user: string;
  user_id: number | null;
  account: string | null;
  partition: string;
  state: string;
  reason: string | null;
  submit_time: string | null;
  start_time: string | null;
  end_time: string | null;
  time_used: string;
  time_limit: string | null;
  num_nodes: number;
  num_cpus: number;
  nodes: string | null;
  work_dir: string | null;
  stdout_path: string | null;
  stderr_path: string | null;
  qos: string | null;
}

/** One value of a queue table row. */
export type Cell = string | number | null;

/** What a pending reason means, and what the user can do ("" when waiting is all). */
export interface IExplanation {
  text: string;
  action: string;
}

/** GET jobs: `jobs` by default; with `format=table`, `format`, `fields` and `rows` instead. */
export interface IJobList {
  jobs?: IJob[];
  format?: 'table';
  /** IJob's keys, in the order of each row's values. */
  fields?: string[];
  rows?: Cell[][];
  /** Once per distinct pending reason among the jobs. */
  explanations: Record<string, IExplanation>;
  fetched_at: string;
  stale: boolean;
}

export interface IClusterStatus {
  backend: string;
  cluster_name: string | null;
  slurm_version: string | null;
  user: string;
  controller: 'up' | 'down';
  /** The Jupyter root as an absolute path on the cluster side (local backend), else null. */
  root_dir: string | null;
  message: string;
  version: string;
  /** Why "my" jobs, submits and actions are refused (unknown_user), else null. */
  identity_error: string | null;
}

/** One sbatch option the API takes (the table in slurm_lab/slurm/options.py). */
export interface ISbatchOption {
  name: string;
  flag: string;
  short: string | null;
  example: string;
  help: string;
  kind: 'text' | 'count' | 'switch';
  /** Its label in the submit form; null: not in the form. */
  form: string | null;
}

/** A finished job as accounting (or the job-completion log) reports it. */
export interface IHistoricJob {
  job_id: string;
  name: string;
  user: string;
  partition: string | null;
  state: string;
  exit_code: string | null;
  submit_time: string | null;
  start_time: string | null;
  end_time: string | null;
  elapsed: string | null;
  num_nodes: number | null;
  nodes: string | null;
  work_dir: string | null;
  /** Once it ended, from accounting; null from the fallbacks (no slurmdbd). */
  efficiency: IEfficiency | null;
}

export interface IHistory {
  jobs: IHistoricJob[];
  source: 'accounting' | 'jobcomp' | 'controller';
  message: string;
}

export interface IActionResult {
  job_id: string;
  ok: boolean;
  message: string;
  reason: string;
}

export interface IJobDetails {
  job_id: string;
  source: 'controller' | 'accounting';
  fields: Record<string, string>;
  /** The job owner's uid, when Slurm reports it. */
  user_id: number | null;
  /** Why it waits, when it may start, its place in line: set while the job pends. */
  pending: IPendingInfo | null;
  /** How much of what it held it used, and what to ask for next time: set once it ended. */
  efficiency: IEfficiency | null;
}

/** A finished job's use of what it held (sacct), with right-sizing suggestions. */
export interface IEfficiency {
  job_id: string;
  state: string;
  elapsed_seconds: number;
  cpus: number;
  cpu_seconds: number | null;
  cpu_efficiency: number | null;
  memory_requested_bytes: number | null;
  max_rss_bytes: number | null;
  memory_efficiency: number | null;
  time_limit_seconds: number | null;
  time_efficiency: number | null;
  gpus: number;
  /** Submit options to apply, e.g. { mem: '1G', time: '15' }. */
  suggestions: Record<string, string>;
  notes: string[];
}

/** A pending job, explained (GET jobs/{id}). */
export interface IPendingInfo {
  reason: string | null;
  explanation: string | null;
  action: string | null;
  expected_start: string | null;
  rank: number | null;
  pending_in_partition: number | null;
  priority: number | null;
  factors: Record<string, number> | null;
}

export interface IOutputChunk {
  job_id: string;
  stream: 'stdout' | 'stderr';
  path: string;
  offset: number;
  next_offset: number;
  size: number;
  data: string;
}

export interface IPartition {
  name: string;
  is_default: boolean;
  state: string;
  max_time: string | null;
  default_time: string | null;
  total_nodes: number;
  total_cpus: number;
  idle_cpus: number;
  allocated_cpus: number;
  nodes: string;
}

/** An error answered by the API: its HTTP status, message and machine-readable reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
    readonly body: unknown = null
  ) {
    super(message);
  }
}

async function request(
  endPoint: string,
  init: RequestInit = {}
): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'slurm-lab/api', endPoint);
  return ServerConnection.makeRequest(url, init, settings);
}

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text();
  const data: unknown = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const body = data as { message?: string; reason?: string };
    throw new ApiError(
      response.status,
      body.message ?? response.statusText,
      body.reason ?? 'http_error',
      data
    );
  }
  return data as T;
}

export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  return parse<T>(await request(endPoint, init));
}

function json(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body) };
}

export function getStatus(): Promise<IClusterStatus> {
  return requestAPI<IClusterStatus>('status');
}

/**
 * The queue in the compact encoding (`format=table`): one row of values per job, in the order
 * of `fields` (IJob's keys, as the server names them). On a Slurm failure the error's body is
 * this with `stale: true`, `message` and `reason` (the last good data).
 */
export interface IJobTable extends IJobList {
  format: 'table';
  fields: string[];
  rows: Cell[][];
}

/** The queue as a table. `null` means unchanged since `etag` (HTTP 304). */
export async function fetchJobTable(
  scope: Scope,
  etag: string | null
): Promise<{ table: IJobTable; etag: string | null } | null> {
  const headers: Record<string, string> = {};
  if (etag) {
    headers['If-None-Match'] = etag;
  }
  const response = await request(`jobs?scope=${scope}&format=table`, {
    headers
  });
  if (response.status === 304) {
    return null;
  }
  return {
    table: await parse<IJobTable>(response),
    etag: response.headers.get('ETag')
  };
}

/** Client → server on the events socket: serve this scope (the latest subscription wins). */
export interface ISubscribe {
  subscribe: Scope;
}

/** Server → client: the whole queue of `scope` at `version`. */
export interface IQueueSnapshot {
  type: 'snapshot';
  scope: Scope;
  /** The listing's name (a digest); deltas name it as their `base`. */
  version: string;
  fields: string[];
  rows: Cell[][];
  explanations: Record<string, IExplanation>;
  fetched_at: string;
  stale: boolean;
}

/**
 * Server → client: what changed from `base` to `version` (rows keyed by their job_id; a running
 * job's time_used alone is not a change).
 */
export interface IQueueDelta {
  type: 'delta';
  scope: Scope;
  base: string;
  version: string;
  upsert: Cell[][];
  remove: string[];
  explanations: Record<string, IExplanation>;
  fetched_at: string;
  stale: boolean;
}

/** Server → client: the last refresh failed; the data held are stale until the next change. */
export interface IQueueError {
  type: 'error';
  scope: Scope;
  message: string;
  reason: string;
  retry_after: number | null;
}

export type QueueEvent = IQueueSnapshot | IQueueDelta | IQueueError;

const EVENTS = 'slurm-lab/api/jobs/events';

/** The events socket's URL, made as @jupyterlab/services makes its kernel and terminal ones. */
export function jobEventsUrl(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const url = URLExt.join(settings.wsUrl, EVENTS);
  return settings.appendToken && settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}

/** A new events socket (one per model, so one per browser tab), or null without WebSockets. */
export function openJobEvents(): WebSocket | null {
  const settings = ServerConnection.makeSettings();
  if (typeof settings.WebSocket !== 'function') {
    return null;
  }
  return new settings.WebSocket(jobEventsUrl(settings));
}

/**
 * Whether the server lacks the events route (an older server): a plain GET of the route
 * answers 404 then, and something else (400: upgrade required) when it is there. A browser
 * does not tell why a WebSocket upgrade failed, so this is asked after one failed.
 */
export async function jobEventsMissing(): Promise<boolean> {
  try {
    return (await request('jobs/events')).status === 404;
  } catch {
    return false; // the server is unreachable: not an answer about the route
  }
}

export function act(
  action: Action,
  jobIds: string[]
): Promise<{ results: IActionResult[] }> {
  return requestAPI('jobs/actions', json('POST', { action, job_ids: jobIds }));
}

export function submit(
  script: string,
  options: Record<string, string | number | boolean>,
  idempotencyKey: string
): Promise<{ job_id: string }> {
  return requestAPI(
    'jobs',
    json('POST', { script, options, idempotency_key: idempotencyKey })
  );
}

/** Slurm's answer to "when and where would this start?" (sbatch --test-only); no job is made. */
export interface IWillRun {
  test_only: boolean;
  expected_start: string | null;
  nodes: string | null;
  partition: string | null;
  processors: number | null;
  /** Association and QOS limits it would run into, in plain words. */
  warnings: string[];
}

export function willRun(
  script: string,
  options: Record<string, string | number | boolean>
): Promise<IWillRun> {
  return requestAPI('jobs', json('POST', { script, options, test_only: true }));
}

/** One compute node (GET nodes). */
export interface INode {
  name: string;
  state: string;
  partitions: string[];
  cpus_total: number;
  cpus_allocated: number;
  memory_total_mb: number;
  memory_allocated_mb: number;
  gpus_total: number;
  gpus_allocated: number;
  features: string | null;
  reason: string | null;
}

/** One limit on the user: what is used and what is left (GET account). */
export interface ILimit {
  name: string;
  limit: number;
  used: number;
  left: number;
}

export interface IAccountInfo {
  user: string;
  associations: {
    account: string;
    partition: string | null;
    is_default: boolean;
    fairshare: number | null;
    raw_usage: number | null;
    limits: ILimit[];
  }[];
  qos: { name: string; limits: ILimit[] }[];
}

export function getAccount(): Promise<IAccountInfo> {
  return requestAPI('account');
}

export function getNodes(): Promise<{ nodes: INode[] }> {
  return requestAPI('nodes');
}

export function getDetails(jobId: string): Promise<IJobDetails> {
  return requestAPI(`jobs/${encodeURIComponent(jobId)}`);
}

/** What made a job, to submit it again (GET jobs/{id}/script). */
export interface IJobScript {
  job_id: string;
  script: string;
  options: Record<string, string | boolean>;
  /** "kept": slurm-lab's copy from submit time; "controller": Slurm's copy. */
  source: 'kept' | 'controller';
}

export function getJobScript(jobId: string): Promise<IJobScript> {
  return requestAPI(`jobs/${encodeURIComponent(jobId)}/script`);
}

export function getOutput(
  jobId: string,
  stream: 'stdout' | 'stderr',
  offset: number
): Promise<IOutputChunk> {
  return requestAPI(
    `jobs/${encodeURIComponent(jobId)}/output?stream=${stream}&offset=${offset}`
  );
}

export function getPartitions(): Promise<{ partitions: IPartition[] }> {
  return requestAPI('partitions');
}

/** Finished jobs since `since` (e.g. "now-7days"). */
export function getHistory(scope: Scope, since: string): Promise<IHistory> {
  return requestAPI(
    `history?scope=${scope}&since=${encodeURIComponent(since)}`
  );
}

let optionList: Promise<ISbatchOption[]> | null = null;

/** The sbatch options, fetched once per page (they change only with slurm-lab itself). */
export function getOptions(): Promise<ISbatchOption[]> {
  optionList ??= requestAPI<{ options: ISbatchOption[] }>('options').then(
    r => r.options
  );
  optionList.catch(() => (optionList = null)); // a failed fetch is tried again next time
  return optionList;
}
