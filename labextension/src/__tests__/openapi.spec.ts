/**
 * The TypeScript types of src/api.ts against the API's own description, slurm_lab/openapi.yaml.
 * Interfaces vanish at run time, so each is written out once below as a typed literal: the
 * compiler (ts-jest type-checks) rejects a missing, extra or mistyped property there, and the
 * test compares that literal with the schema's properties, types and nullability.
 *
 * Not checked, the spec giving no properties: IPartition (GET partitions), ISbatchOption
 * (GET options) and IHistoricJob (GET history's jobs).
 */
import { readFileSync } from 'fs';
import { load } from 'js-yaml';
import { join } from 'path';

import type {
  act,
  Action,
  IActionResult,
  IClusterStatus,
  IHistory,
  IJob,
  IEfficiency,
  IJobDetails,
  INode,
  IPendingInfo,
  IJobList,
  IOutputChunk,
  Scope,
  submit
} from '../api';

/** The JSON type of a TypeScript property type, as the spec names it ("integer" is "number"). */
type Kind<V> = V extends string
  ? 'string'
  : V extends number
    ? 'number'
    : V extends boolean
      ? 'boolean'
      : V extends unknown[]
        ? 'array'
        : 'object';
type Field<V> = null extends V ? `${Kind<NonNullable<V>>} | null` : Kind<V>;
/** Every property of T with its JSON type: exactly T's keys, each with the right type. */
type Fields<T> = { [K in keyof T]-?: Field<T[K]> };
/** Every member of a string union, listed once. */
type Members<U extends string> = Record<U, true>;

interface ISchema {
  type?: string;
  nullable?: boolean;
  enum?: string[];
  $ref?: string;
  properties?: Record<string, ISchema>;
  allOf?: ISchema[];
  oneOf?: ISchema[];
}
interface IParameter {
  name: string;
  schema: ISchema;
}
interface IOperation {
  parameters?: IParameter[];
  requestBody?: { content: Record<string, { schema: ISchema }> };
  responses: Record<string, { content?: Record<string, { schema: ISchema }> }>;
}
interface ISpec {
  paths: Record<string, Record<string, IOperation>>;
  components: { schemas: Record<string, ISchema> };
}

const SPEC_PATH = join(
  __dirname,
  '..',
  '..',
  '..',
  'slurm_lab',
  'openapi.yaml'
);
const spec = load(readFileSync(SPEC_PATH, 'utf8')) as ISpec;

/** A schema with its `$ref` followed (local references only). */
function resolve(schema: ISchema): ISchema {
  const name = schema.$ref?.replace('#/components/schemas/', '');
  return name ? resolve(spec.components.schemas[name]) : schema;
}

/** The JSON body schema of an operation's response. */
function response(path: string, method: string, status: string): ISchema {
  const answer = spec.paths[path][method].responses[status];
  return resolve(answer.content?.['application/json'].schema ?? {});
}

/** A schema's properties as `Fields` writes them: "number | null" for a nullable integer. */
function schemaFields(schema: ISchema): Record<string, string> {
  return Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([key, raw]) => {
      const prop = resolve(raw);
      const type = prop.oneOf
        ? prop.oneOf.map(s => s.type).join(' or ')
        : prop.type === 'integer'
          ? 'number'
          : String(prop.type);
      return [key, prop.nullable ? `${type} | null` : type];
    })
  );
}

/** What differs between the TypeScript side and the spec, one readable line each. */
function differences(
  ts: Record<string, string>,
  yaml: Record<string, string>
): string[] {
  const keys = [...new Set([...Object.keys(ts), ...Object.keys(yaml)])].sort();
  return keys.flatMap(key =>
    !(key in yaml)
      ? [`${key}: in the TypeScript type, not in openapi.yaml`]
      : !(key in ts)
        ? [`${key}: in openapi.yaml (${yaml[key]}), missing in TypeScript`]
        : ts[key] !== yaml[key]
          ? [`${key}: TypeScript ${ts[key]}, openapi.yaml ${yaml[key]}`]
          : []
  );
}

const JOB: Fields<IJob> = {
  job_id: 'string',
  array_job_id: 'number | null',
  array_task_id: 'string | null',
  name: 'string',
  user: 'string',
  user_id: 'number | null',
  account: 'string | null',
  partition: 'string',
  state: 'string',
  reason: 'string | null',
  submit_time: 'string | null',
  start_time: 'string | null',
  end_time: 'string | null',
  time_used: 'string',
  time_limit: 'string | null',
  num_nodes: 'number',
  num_cpus: 'number',
  nodes: 'string | null',
  work_dir: 'string | null',
  stdout_path: 'string | null',
  stderr_path: 'string | null',
  qos: 'string | null'
};
const JOB_LIST: Fields<IJobList> = {
  jobs: 'array',
  format: 'string',
  fields: 'array',
  rows: 'array',
  explanations: 'object',
  fetched_at: 'string',
  stale: 'boolean'
};
const JOB_DETAILS: Fields<IJobDetails> = {
  job_id: 'string',
  source: 'string',
  fields: 'object',
  user_id: 'number | null',
  pending: 'object | null',
  efficiency: 'object | null'
};
const ACTION_RESULT: Fields<IActionResult> = {
  job_id: 'string',
  ok: 'boolean',
  message: 'string',
  reason: 'string'
};
const ACTION_RESULTS: Fields<Awaited<ReturnType<typeof act>>> = {
  results: 'array'
};
const SUBMITTED: Fields<Awaited<ReturnType<typeof submit>>> = {
  job_id: 'string'
};
const STATUS: Fields<IClusterStatus> = {
  backend: 'string',
  cluster_name: 'string | null',
  slurm_version: 'string | null',
  user: 'string',
  controller: 'string',
  root_dir: 'string | null',
  message: 'string',
  version: 'string',
  identity_error: 'string | null'
};
const OUTPUT_CHUNK: Fields<IOutputChunk> = {
  job_id: 'string',
  stream: 'string',
  path: 'string',
  offset: 'number',
  next_offset: 'number',
  size: 'number',
  data: 'string'
};
const HISTORY: Fields<IHistory> = {
  jobs: 'array',
  source: 'string',
  message: 'string'
};

const NODE: Fields<INode> = {
  name: 'string',
  state: 'string',
  partitions: 'array',
  cpus_total: 'number',
  cpus_allocated: 'number',
  memory_total_mb: 'number',
  memory_allocated_mb: 'number',
  gpus_total: 'number',
  gpus_allocated: 'number',
  features: 'string | null',
  reason: 'string | null'
};
const EFFICIENCY: Fields<IEfficiency> = {
  job_id: 'string',
  state: 'string',
  elapsed_seconds: 'number',
  cpus: 'number',
  cpu_seconds: 'number | null',
  cpu_efficiency: 'number | null',
  memory_requested_bytes: 'number | null',
  max_rss_bytes: 'number | null',
  memory_efficiency: 'number | null',
  time_limit_seconds: 'number | null',
  time_efficiency: 'number | null',
  gpus: 'number',
  suggestions: 'object',
  notes: 'array'
};
const PENDING: Fields<IPendingInfo> = {
  reason: 'string | null',
  explanation: 'string | null',
  action: 'string | null',
  expected_start: 'string | null',
  rank: 'number | null',
  pending_in_partition: 'number | null',
  priority: 'number | null',
  factors: 'object | null'
};

describe('the API types against openapi.yaml', () => {
  const cases: [string, Record<string, string>, ISchema][] = [
    ['INode (Node)', NODE, spec.components.schemas.Node],
    [
      'IEfficiency (Efficiency)',
      EFFICIENCY,
      spec.components.schemas.Efficiency
    ],
    [
      'IPendingInfo (PendingInfo)',
      PENDING,
      spec.components.schemas.PendingInfo
    ],
    ['IJob (Job)', JOB, spec.components.schemas.Job],
    ['IJobList (JobList)', JOB_LIST, spec.components.schemas.JobList],
    [
      'IJobDetails (JobDetails)',
      JOB_DETAILS,
      spec.components.schemas.JobDetails
    ],
    [
      'IActionResult (ActionResult)',
      ACTION_RESULT,
      spec.components.schemas.ActionResult
    ],
    [
      'act() (POST jobs/actions)',
      ACTION_RESULTS,
      response('/jobs/actions', 'post', '200')
    ],
    ['submit() (POST jobs)', SUBMITTED, response('/jobs', 'post', '201')],
    ['IClusterStatus (GET status)', STATUS, response('/status', 'get', '200')],
    [
      'IOutputChunk (GET jobs/{job_id}/output)',
      OUTPUT_CHUNK,
      response('/jobs/{job_id}/output', 'get', '200')
    ],
    ['IHistory (GET history)', HISTORY, response('/history', 'get', '200')]
  ];
  it.each(cases)('%s has the properties of the spec', (_, ts, schema) => {
    // On failure the list says, property by property, which side is missing what.
    expect(differences(ts, schemaFields(schema))).toEqual([]);
  });

  /** The enum of a named query parameter. */
  const parameter = (path: string, name: string): string[] =>
    spec.paths[path].get.parameters?.find(p => p.name === name)?.schema.enum ??
    [];
  const property = (schema: ISchema, name: string): string[] =>
    resolve(schema.properties?.[name] ?? {}).enum ?? [];
  const actions: Members<Action> = { cancel: true, hold: true, release: true };
  const scopes: Members<Scope> = { mine: true, all: true };
  const controller: Members<IClusterStatus['controller']> = {
    up: true,
    down: true
  };
  const detailSources: Members<IJobDetails['source']> = {
    controller: true,
    accounting: true
  };
  const historySources: Members<IHistory['source']> = {
    accounting: true,
    jobcomp: true,
    controller: true
  };
  const streams: Members<IOutputChunk['stream']> = {
    stdout: true,
    stderr: true
  };
  const actionBody =
    spec.paths['/jobs/actions'].post.requestBody?.content['application/json']
      .schema ?? {};
  const enums: [string, object, string[]][] = [
    ['Action', actions, property(actionBody, 'action')],
    ['Scope', scopes, parameter('/jobs', 'scope')],
    ['Scope (history)', scopes, parameter('/history', 'scope')],
    [
      "IClusterStatus['controller']",
      controller,
      property(response('/status', 'get', '200'), 'controller')
    ],
    [
      "IJobDetails['source']",
      detailSources,
      property(spec.components.schemas.JobDetails, 'source')
    ],
    [
      "IHistory['source']",
      historySources,
      property(response('/history', 'get', '200'), 'source')
    ],
    [
      "IOutputChunk['stream']",
      streams,
      parameter('/jobs/{job_id}/output', 'stream')
    ]
  ];
  it.each(enums)('%s has the values of the spec', (_, ts, yaml) => {
    expect(Object.keys(ts).sort()).toEqual([...yaml].sort());
  });
});
