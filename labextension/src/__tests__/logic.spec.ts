import { IJob } from '../api';
import { expandTasks, filterJobs, sortJobs } from '../logic';

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
