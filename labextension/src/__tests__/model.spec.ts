/**
 * QueueModel's actions: the API is called, then the model (and nothing else) refreshes.
 * The API client is replaced by mocks; the Lumino Poll runs for real.
 */
import { act, ApiError, fetchJobs, IJob, submit } from '../api';
import { QueueModel } from '../model';

jest.mock('../api', () => {
  class ApiError extends Error {
    constructor(
      readonly status: number,
      message: string,
      readonly reason: string,
      readonly body: unknown = null
    ) {
      super(message);
    }
  }
  return { ApiError, act: jest.fn(), fetchJobs: jest.fn(), submit: jest.fn() };
});

const fetched = jest.mocked(fetchJobs);
const submitted = jest.mocked(submit);
const acted = jest.mocked(act);

function listing(...ids: string[]): Awaited<ReturnType<typeof fetchJobs>> {
  const jobs = ids.map(job_id => ({ job_id, state: 'PENDING' }) as IJob);
  return {
    list: { jobs, explanations: {}, fetched_at: '', stale: false },
    etag: null
  };
}

/** Resolves at the model's next change (a listing came in). */
function nextChange(model: QueueModel): Promise<void> {
  return new Promise(resolve => {
    const once = () => {
      model.changed.disconnect(once);
      resolve();
    };
    model.changed.connect(once);
  });
}

const pause = () => new Promise(resolve => setTimeout(resolve, 30));

describe('QueueModel actions', () => {
  let model: QueueModel;
  beforeEach(async () => {
    jest.clearAllMocks();
    fetched.mockResolvedValue(listing('1'));
    model = new QueueModel({ interval: 60, scope: 'mine' });
    await nextChange(model); // the first listing
    fetched.mockClear();
  });
  afterEach(() => model.dispose());

  it('submits, refreshes once, then selects the new job', async () => {
    submitted.mockResolvedValue({ job_id: '7' });
    fetched.mockResolvedValue(listing('1', '7'));
    const selected = new Promise(resolve =>
      model.selectRequested.connect((_, id) => resolve(id))
    );
    await expect(
      model.submit('#!/bin/bash\n', { nodes: 1 }, 'k1')
    ).resolves.toBe('7');
    expect(submitted).toHaveBeenCalledWith('#!/bin/bash\n', { nodes: 1 }, 'k1');
    expect(await selected).toBe('7');
    expect(fetched).toHaveBeenCalledTimes(1);
    expect(model.jobs.map(j => j.job_id)).toEqual(['1', '7']);
  });

  it('passes a refused submit on, without refreshing or selecting', async () => {
    submitted.mockRejectedValue(new Error('refused'));
    const select = jest.fn();
    model.selectRequested.connect(select);
    await expect(model.submit('x', {}, 'k2')).rejects.toThrow('refused');
    await pause();
    expect(fetched).not.toHaveBeenCalled();
    expect(select).not.toHaveBeenCalled();
  });

  it('acts in batches, one result per id even on errors, then refreshes once', async () => {
    const ids = Array.from({ length: 1500 }, (_, i) => String(i + 1));
    acted
      .mockImplementationOnce(async (_, batch) => ({
        results: batch.map(job_id => ({
          job_id,
          ok: true,
          message: '',
          reason: ''
        }))
      }))
      .mockRejectedValueOnce(new ApiError(504, 'timed out', 'command_timeout'));
    const changed = nextChange(model);
    const results = await model.act('hold', ids);
    expect(acted.mock.calls.map(([a, batch]) => [a, batch.length])).toEqual([
      ['hold', 1000],
      ['hold', 500]
    ]);
    expect(results).toHaveLength(1500);
    expect(results.filter(r => !r.ok).map(r => r.message)).toEqual(
      Array(500).fill('timed out')
    );
    await changed;
    expect(fetched).toHaveBeenCalledTimes(1);
  });
});
