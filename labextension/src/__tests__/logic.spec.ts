import { IJob, ISbatchOption } from '../api';
import {
  actionQuestion,
  batches,
  contentsPath,
  copyOfFields,
  formOptions,
  expandTasks,
  filterJobs,
  finishedSummary,
  outputWhere,
  rowTitle,
  scriptDirectives,
  sortJobs,
  startShown,
  underRoot
} from '../logic';

function job(id: string, extra: Partial<IJob> = {}): IJob {
  return {
    job_id: id,
    array_job_id: null,
    array_task_id: null,
    name: `job-${id}`,
    user: 'alice',
    user_id: 1001,
    account: null,
    partition: 'debug',
    state: 'PENDING',
    reason: null,
    submit_time: null,
    start_time: null,
    end_time: null,
    time_used: '0:00',
    time_limit: null,
    num_nodes: 1,
    num_cpus: 1,
    nodes: null,
    work_dir: null,
    stdout_path: null,
    stderr_path: null,
    qos: null,
    ...extra
  };
}

describe('sortJobs', () => {
  it('sorts job ids numerically, both ways', () => {
    const jobs = [job('10'), job('9'), job('100')];
    expect(sortJobs(jobs, 'job_id', true).map(j => j.job_id)).toEqual([
      '9',
      '10',
      '100'
    ]);
    expect(sortJobs(jobs, 'job_id', false).map(j => j.job_id)).toEqual([
      '100',
      '10',
      '9'
    ]);
  });
});

describe('expandTasks', () => {
  it('expands ranges, lists, steps and ignores the % limit', () => {
    expect(expandTasks('0-3')).toEqual(['0', '1', '2', '3']);
    expect(expandTasks('1,3,5-6')).toEqual(['1', '3', '5', '6']);
    expect(expandTasks('0-8:4%2')).toEqual(['0', '4', '8']);
    expect(expandTasks('0-99999', 5)).toHaveLength(5);
  });
});

describe('filterJobs', () => {
  const jobs = [
    job('1', { state: 'RUNNING', partition: 'long', name: 'train' }),
    job('2', { state: 'COMPLETED', name: '<img src=x>' }),
    job('3', { state: 'CANCELLED by 0', reason: 'JobHeldUser' })
  ];
  it('filters by state (base state), partition and text', () => {
    expect(filterJobs(jobs, 'RUNNING', '', '').map(j => j.job_id)).toEqual([
      '1'
    ]);
    expect(filterJobs(jobs, 'CANCELLED', '', '').map(j => j.job_id)).toEqual([
      '3'
    ]);
    expect(filterJobs(jobs, '', 'long', '').map(j => j.job_id)).toEqual(['1']);
    expect(filterJobs(jobs, '', '', 'IMG').map(j => j.job_id)).toEqual(['2']);
    expect(filterJobs(jobs, '', '', 'heldUser').map(j => j.job_id)).toEqual([
      '3'
    ]);
  });
});

describe('actionQuestion', () => {
  const running = [
    job('64_0', { array_job_id: 64, array_task_id: '0', state: 'RUNNING' }),
    job('64_1', { array_job_id: 64, array_task_id: '1', state: 'RUNNING' })
  ];
  const pending = job('64_[2-9]', { array_job_id: 64, array_task_id: '2-9' });
  it('says a collapsed row is its pending tasks, and that running ones stay', () => {
    expect(actionQuestion('Cancel', [pending], [...running, pending])).toBe(
      "Cancel 8 pending tasks of array 64 (64_[2-9])? The array's 2 running tasks are not affected."
    );
  });
  it('summarises big selections instead of listing ids', () => {
    const many = [
      ...Array.from({ length: 1998 }, (_, i) => job(String(i + 1))),
      job('5000', { state: 'RUNNING' }),
      job('5001', { state: 'RUNNING' })
    ];
    expect(actionQuestion('Cancel', many, many)).toBe(
      'Cancel 2,000 jobs (1,998 pending, 2 running)?'
    );
    expect(actionQuestion('Hold', [job('7')], [])).toBe('Hold job 7?');
  });
});

describe('finishedSummary', () => {
  it('groups, and a cancel is not a failure', () => {
    const done = [
      ...Array.from({ length: 12 }, (_, i) =>
        job(String(i), { state: 'COMPLETED' })
      ),
      job('20', { state: 'FAILED' }),
      job('21', { state: 'CANCELLED by 1001' })
    ];
    expect(finishedSummary(done)).toEqual({
      text: 'Slurm: 12 jobs completed, 1 failed, 1 cancelled',
      kind: 'error'
    });
    const cancelled = Array.from({ length: 2000 }, (_, i) =>
      job(String(i), { state: 'CANCELLED' })
    );
    expect(finishedSummary(cancelled)).toEqual({
      text: 'Slurm: 2,000 jobs cancelled',
      kind: 'info'
    });
    expect(finishedSummary([job('3', { state: 'OUT_OF_MEMORY' })])).toEqual({
      text: 'Slurm job 3 (job-3) out of memory',
      kind: 'error'
    });
  });
});

describe('batches and startShown', () => {
  it('splits 2,500 ids into 1,000 + 1,000 + 500', () => {
    expect(
      batches(Array.from({ length: 2500 }, (_, i) => i)).map(b => b.length)
    ).toEqual([1000, 1000, 500]);
  });
  it("shows a pending job's start only as a near estimate", () => {
    const now = Date.parse('2026-11-21T12:00:00');
    expect(
      startShown(job('1', { start_time: '2027-11-21T12:00:00' }), now)
    ).toBe('');
    expect(
      startShown(job('1', { start_time: '2026-11-21T13:00:00' }), now)
    ).toBe('≈ 2026-11-21T13:00:00');
    expect(
      startShown(
        job('1', { state: 'RUNNING', start_time: '2026-11-21T11:00:00' }),
        now
      )
    ).toBe('2026-11-21T11:00:00');
  });
});

/** A few rows of the API's option table (GET options). */
const OPTIONS: ISbatchOption[] = [
  ['job_name', '--job-name', '-J', 'text'],
  ['partition', '--partition', '-p', 'text'],
  ['time', '--time', '-t', 'text'],
  ['mem', '--mem', null, 'text'],
  ['hold', '--hold', '-H', 'switch']
].map(([name, flag, short, kind]) => ({
  name: name as string,
  flag: flag as string,
  short: short as string | null,
  kind: kind as ISbatchOption['kind'],
  example: '',
  help: '',
  form: null
}));

describe('scriptDirectives and outputWhere', () => {
  it('reads #SBATCH lines up to the first command, short and long, last one wins', () => {
    const script = [
      '#!/bin/bash',
      '#SBATCH --job-name=train',
      '#SBATCH -p long',
      '#SBATCH --time 2:00:00',
      '# a comment',
      '#SBATCH -t 3:00:00',
      '#SBATCH --hold',
      '#SBATCH --unknown-flag=1',
      '',
      'python train.py',
      '#SBATCH --mem=4G'
    ].join('\n');
    expect(scriptDirectives(script, OPTIONS)).toEqual({
      job_name: 'train',
      partition: 'long',
      time: '3:00:00',
      hold: 'true'
    });
  });
  it('says where the output goes', () => {
    expect(outputWhere({}, '/home/alice/')).toBe('/home/alice/slurm-%j.out');
    expect(outputWhere({ chdir: '/scratch/r1', array: '0-3' }, '/h')).toBe(
      '/scratch/r1/slurm-%A_%a.out'
    );
    expect(outputWhere({ output: '/tmp/x.log' }, '/h')).toBe('/tmp/x.log');
    expect(outputWhere({ output: 'logs/%j.out', chdir: '/s' }, '/h')).toBe(
      '/s/logs/%j.out'
    );
  });
});

describe('paths and copies for the commands', () => {
  it('joins under the root, keeping its leading slash', () => {
    expect(underRoot('/home/alice/', 'runs/a')).toBe('/home/alice/runs/a');
    expect(underRoot('/home/alice', '')).toBe('/home/alice');
  });
  it('finds the contents path of a cluster path under the root only', () => {
    expect(contentsPath('/home/alice/', '/home/alice/r/x.out')).toBe('r/x.out');
    expect(contentsPath('/home/alice', '/home/alice')).toBe('');
    expect(contentsPath('/home/alice', '/home/alicia/x')).toBeNull();
    expect(contentsPath('/home/alice', 'relative/x')).toBeNull();
    expect(contentsPath(null, '/home/alice/x')).toBeNull();
  });
  it('copies a job as a new one, without unset or unlimited values', () => {
    const copy = copyOfFields('42', {
      JobName: 'train',
      Partition: 'debug',
      TimeLimit: 'UNLIMITED',
      NumNodes: '1-1',
      WorkDir: '/s'
    });
    expect(copy.script).toContain('Copied from job 42');
    expect(copy.options).toEqual({
      job_name: 'train',
      partition: 'debug',
      nodes: '1',
      chdir: '/s'
    });
  });
  it('holds switches as the form does', () => {
    expect(formOptions({ hold: true, requeue: false, mem: '1G' })).toEqual({
      hold: 'true',
      mem: '1G'
    });
  });
});

describe('rowTitle', () => {
  const job = {
    job_id: '7',
    name: 'x',
    state: 'PENDING',
    reason: 'JobHeldUser'
  } as IJob;
  it('adds what a pending reason means and what to do', () => {
    const title = rowTitle(job, {
      JobHeldUser: { text: 'Held by its owner.', action: 'Release it.' }
    });
    expect(title).toBe(
      '7 x\nPENDING: JobHeldUser\nHeld by its owner.\nRelease it.'
    );
  });
  it('is the job and state alone when the reason is not explained', () => {
    expect(rowTitle(job, {})).toBe('7 x\nPENDING: JobHeldUser');
  });
});
