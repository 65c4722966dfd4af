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
  efficiencySettled,
  formatDuration,
  needsReload,
  parseDuration,
  resort,
  timeUsed,
  outputWhere,
  rowTitle,
  rowSignature,
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

describe('sortJobs and resort', () => {
  it('sorts durations by their length, not their text', () => {
    const jobs = [
      job('1', { time_used: '59:00' }),
      job('2', { time_used: '1:02:03' }),
      job('3', { time_used: '1-00:00:00' }),
      job('4', { time_used: '0:07' })
    ];
    expect(sortJobs(jobs, 'time_used', true).map(j => j.job_id)).toEqual([
      '4',
      '1',
      '2',
      '3'
    ]);
    const limits = [
      job('1', { time_limit: 'UNLIMITED' }),
      job('2', { time_limit: '30:00' }),
      job('3', { time_limit: '2:00:00' })
    ];
    expect(sortJobs(limits, 'time_limit', true).map(j => j.job_id)).toEqual([
      '2',
      '3',
      '1'
    ]);
  });

  it('breaks ties by job id, so descending is exactly ascending reversed', () => {
    const jobs = ['5', '12', '3', '40'].map(id =>
      job(id, { state: 'RUNNING' })
    );
    const up = sortJobs(jobs, 'state', true).map(j => j.job_id);
    expect(up).toEqual(['3', '5', '12', '40']);
    expect(sortJobs(jobs, 'state', false).map(j => j.job_id)).toEqual(
      [...up].reverse()
    );
  });

  it('resorts only what changed, to exactly what a full sort gives', () => {
    // A seeded walk of replaced, added and removed rows, each step checked against sortJobs.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const states = ['PENDING', 'RUNNING', 'COMPLETED'];
    let jobs = Array.from({ length: 300 }, (_, i) =>
      job(String(i), { state: states[i % 3], name: `n${random(40)}` })
    );
    let next = 300;
    for (const [key, ascending] of [
      ['job_id', false],
      ['state', true],
      ['name', false]
    ] as const) {
      let sorted = resort(null, jobs, key, ascending);
      for (let step = 0; step < 40; step++) {
        jobs = jobs.slice();
        for (let k = random(4); k > 0; k--) {
          const i = random(jobs.length);
          jobs[i] = { ...jobs[i], state: states[random(3)] }; // replaced
        }
        if (random(2)) {
          jobs.splice(random(jobs.length), 1 + random(3)); // removed
        }
        for (let k = random(3); k > 0; k--) {
          jobs.push(job(String(next++), { name: `n${random(40)}` })); // added
        }
        const before = sorted;
        sorted = resort(sorted, jobs, key, ascending);
        expect(sorted.output).toEqual(sortJobs(jobs, key, ascending));
        expect(before.output).toHaveLength(before.input.length); // not touched
      }
      expect(resort(sorted, jobs, key, ascending)).toBe(sorted);
      expect(resort(sorted, jobs, key, !ascending).output).toEqual(
        sortJobs(jobs, key, !ascending)
      );
    }
  });
});

describe('durations and the time used of running jobs', () => {
  it('parses what squeue and sbatch write', () => {
    expect(parseDuration('0:00')).toBe(0);
    expect(parseDuration('0:07')).toBe(7);
    expect(parseDuration('12:34')).toBe(12 * 60 + 34);
    expect(parseDuration('1:02:03')).toBe(3723);
    expect(parseDuration('2-01:02:03')).toBe(2 * 86400 + 3723);
    expect(parseDuration('2-01')).toBe(2 * 86400 + 3600); // days-hours
    expect(parseDuration('2-01:30')).toBe(2 * 86400 + 3600 + 1800);
    expect(parseDuration('90')).toBe(90 * 60); // minutes
    for (const bad of ['', 'UNLIMITED', 'INVALID', 'N/A', '1:2:3:4', null]) {
      expect(parseDuration(bad)).toBeNull();
    }
  });

  it('formats as squeue does, and round-trips', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7)).toBe('0:07');
    expect(formatDuration(754)).toBe('12:34');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(86400)).toBe('1-00:00:00');
    expect(formatDuration(2 * 86400 + 3723.9)).toBe('2-01:02:03');
    expect(formatDuration(-5)).toBe('0:00');
    for (const text of [
      '0:59',
      '59:59',
      '1:00:00',
      '23:59:59',
      '10-00:00:01'
    ]) {
      expect(formatDuration(parseDuration(text) ?? -1)).toBe(text);
    }
  });

  it('advances a running job from when its row arrived, and nothing else', () => {
    const arrived = 1_000_000;
    const running = {
      ...job('1', { state: 'RUNNING', time_used: '59:58' }),
      arrived
    };
    expect(timeUsed(running, arrived)).toBe('59:58');
    expect(timeUsed(running, arrived + 1500)).toBe('59:59');
    expect(timeUsed(running, arrived + 2000)).toBe('1:00:00');
    expect(timeUsed(running, arrived + 86400 * 1000)).toBe('1-00:59:58');
    expect(timeUsed(running, arrived - 5000)).toBe('59:58'); // a clock set back
    const pending = { ...job('2', { time_used: '0:00' }), arrived };
    expect(timeUsed(pending, arrived + 60_000)).toBe('0:00');
    const suspended = {
      ...job('3', { state: 'SUSPENDED', time_used: '5:00' }),
      arrived
    };
    expect(timeUsed(suspended, arrived + 60_000)).toBe('5:00');
    const unknown = job('4', { state: 'RUNNING', time_used: '5:00' }); // arrival not known
    expect(timeUsed(unknown, arrived + 60_000)).toBe('5:00');
    const odd = {
      ...job('5', { state: 'RUNNING', time_used: 'INVALID' }),
      arrived
    };
    expect(timeUsed(odd, arrived + 60_000)).toBe('INVALID');
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

describe('needsReload', () => {
  const now = Date.parse('2026-11-21T10:00:30Z');
  const running = job('7', {
    state: 'RUNNING',
    start_time: '2026-11-21T10:00:00',
    nodes: 'c1'
  });
  const seen = rowSignature(running, now);

  it('reads again when the row changed, and not while row and details agree', () => {
    expect(needsReload(running, seen, 'RUNNING', now)).toBe(false);
    expect(needsReload({ ...running, reason: 'x' }, seen, 'RUNNING', now)).toBe(
      true
    );
    expect(needsReload(undefined, seen, 'RUNNING', now)).toBe(true); // gone from the queue
    expect(needsReload(undefined, null, 'CANCELLED', now)).toBe(false);
  });

  it('reads again while the queue shows another state than details read before a change', () => {
    // The row changed to CANCELLED and was seen, but the details read for it were older.
    const cancelled = { ...running, state: 'CANCELLED' };
    const after = rowSignature(cancelled, now);
    expect(needsReload(cancelled, after, 'RUNNING', now)).toBe(true);
    expect(needsReload(cancelled, after, 'CANCELLED', now)).toBe(false);
    expect(
      needsReload(
        { ...cancelled, state: 'CANCELLED by 0' },
        rowSignature({ ...cancelled, state: 'CANCELLED by 0' }, now),
        'CANCELLED',
        now
      )
    ).toBe(false);
    expect(needsReload(cancelled, after, null, now)).toBe(false); // nothing shown yet: the first read is under way
  });
});

describe('efficiencySettled', () => {
  const base = {
    job_id: '7',
    state: 'COMPLETED',
    elapsed_seconds: 2,
    cpus: 1,
    cpu_seconds: 0,
    cpu_efficiency: 0,
    memory_requested_bytes: 1 << 30,
    max_rss_bytes: null,
    memory_efficiency: null,
    time_limit_seconds: null,
    time_efficiency: null,
    gpus: 0,
    suggestions: {},
    notes: []
  };

  it('waits for the time limit slurmdbd writes a moment after the job ends', () => {
    // sacct right after the end of a 2 s job (captured): no TimelimitRaw yet, no MaxRSS ever.
    expect(efficiencySettled(null)).toBe(false);
    expect(efficiencySettled(base)).toBe(false);
    expect(
      efficiencySettled({
        ...base,
        time_limit_seconds: 600,
        time_efficiency: 2 / 600
      })
    ).toBe(true);
  });
});
