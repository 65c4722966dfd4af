/**
 * QueueModel's actions: the API is called, then the model (and nothing else) refreshes.
 * The API client is replaced by mocks; the Lumino Poll runs for real.
 */
import {
  act,
  ApiError,
  fetchJobTable,
  jobEventsMissing,
  openJobEvents,
  submit
} from '../api';
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
  return {
    ApiError,
    act: jest.fn(),
    fetchJobTable: jest.fn(),
    submit: jest.fn(),
    openJobEvents: jest.fn(() => null),
    jobEventsMissing: jest.fn(async () => false)
  };
});

const fetched = jest.mocked(fetchJobTable);
const submitted = jest.mocked(submit);
const acted = jest.mocked(act);

function listing(...ids: string[]): Awaited<ReturnType<typeof fetchJobTable>> {
  return {
    table: {
      format: 'table',
      fields: ['job_id', 'state'],
      rows: ids.map(id => [id, 'PENDING']),
      explanations: {},
      fetched_at: '',
      stale: false
    },
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

/** A WebSocket the test drives: open it, push messages through it, drop it. */
class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(message: object) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

const FIELDS = ['state', 'job_id', 'time_used']; // not the server's order: mapped by name
const snapshot = (version: string, rows: string[][], scope = 'mine') => ({
  type: 'snapshot',
  scope,
  version,
  fields: FIELDS,
  rows,
  explanations: {},
  fetched_at: 'T',
  stale: false
});
const delta = (
  base: string,
  version: string,
  upsert: string[][],
  remove: string[] = []
) => ({
  type: 'delta',
  scope: 'mine',
  base,
  version,
  upsert,
  remove,
  explanations: {},
  fetched_at: 'T2',
  stale: false
});
const ids = (model: QueueModel) =>
  model.jobs.map(j => `${j.job_id}:${j.state}`);

describe('QueueModel pushed over the events socket', () => {
  const opened = jest.mocked(openJobEvents);
  const missing = jest.mocked(jobEventsMissing);
  let sockets: FakeSocket[];
  let model: QueueModel;

  /** A model that took its first (polled) listing, its socket opened and subscribed. */
  async function start(interval = 60): Promise<FakeSocket> {
    fetched.mockResolvedValue(listing('1'));
    model = new QueueModel({ interval, scope: 'mine' });
    await nextChange(model);
    const socket = sockets[0];
    socket.open();
    expect(socket.sent).toEqual([{ subscribe: 'mine' }]);
    return socket;
  }

  beforeEach(() => {
    jest.clearAllMocks();
    sockets = [];
    opened.mockImplementation(() => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket as unknown as WebSocket;
    });
    missing.mockResolvedValue(false);
  });
  afterEach(() => {
    model.dispose();
    opened.mockImplementation(() => null);
  });

  it('takes the snapshot, then stops fetching but still says polled each interval', async () => {
    const socket = await start(1);
    socket.receive(
      snapshot('v1', [
        ['RUNNING', '1', '0:10'],
        ['PENDING', '2', '0:00']
      ])
    );
    expect(model.live).toBe(true);
    expect(ids(model)).toEqual(['1:RUNNING', '2:PENDING']);
    fetched.mockClear();
    let polls = 0;
    await new Promise<void>(resolve =>
      model.polled.connect(() => ++polls === 2 && resolve())
    );
    expect(fetched).not.toHaveBeenCalled();
  });

  it('applies deltas by job id and reports the jobs that finished in them', async () => {
    const socket = await start();
    socket.receive(
      snapshot('v1', [
        ['RUNNING', '1', '0:10'],
        ['PENDING', '2', '0:00']
      ])
    );
    const finished = jest.fn();
    model.finished.connect((_, jobs) => finished(jobs.map(j => j.job_id)));
    const changed = jest.fn();
    model.changed.connect(changed);
    socket.receive(
      delta(
        'v1',
        'v2',
        [
          ['COMPLETED', '1', '0:20'],
          ['PENDING', '3', '0:00']
        ],
        ['2']
      )
    );
    expect(ids(model)).toEqual(['1:COMPLETED', '3:PENDING']);
    expect(finished).toHaveBeenCalledWith(['1']);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(model.fetchedAt).toBe('T2');
  });

  it('subscribes again on a delta to another base, and waits for that snapshot', async () => {
    const socket = await start();
    socket.receive(snapshot('v1', [['PENDING', '1', '0:00']]));
    socket.sent = [];
    socket.receive(delta('v0', 'v5', [['PENDING', '9', '0:00']]));
    expect(socket.sent).toEqual([{ subscribe: 'mine' }]);
    socket.receive(delta('v5', 'v6', [['PENDING', '8', '0:00']])); // before the snapshot
    expect(socket.sent).toHaveLength(1);
    expect(ids(model)).toEqual(['1:PENDING']);
    socket.receive(snapshot('v6', [['PENDING', '9', '0:00']]));
    socket.receive(delta('v6', 'v7', [['PENDING', '8', '0:00']]));
    expect(ids(model)).toEqual(['9:PENDING', '8:PENDING']);
  });

  it('keeps the data, marked stale, on an error, until the next change', async () => {
    const socket = await start();
    socket.receive(snapshot('v1', [['PENDING', '1', '0:00']]));
    socket.receive({
      type: 'error',
      scope: 'mine',
      message: 'slurmctld is not responding',
      reason: 'controller_unavailable',
      retry_after: 10
    });
    expect(model.stale).toBe(true);
    expect(model.error?.status).toBe(503);
    expect(model.error?.reason).toBe('controller_unavailable');
    expect(ids(model)).toEqual(['1:PENDING']);
    socket.receive(delta('v1', 'v2', [['RUNNING', '1', '0:00']]));
    expect(model.stale).toBe(false);
    expect(model.error).toBeNull();
  });

  it('polls at once when the socket drops, and connects again after a second', async () => {
    const socket = await start();
    socket.receive(snapshot('v1', [['PENDING', '1', '0:00']]));
    fetched.mockClear();
    fetched.mockResolvedValue(listing('1', '2'));
    const polled = nextChange(model);
    socket.drop();
    expect(model.live).toBe(false);
    await polled;
    expect(fetched).toHaveBeenCalledTimes(1);
    expect(ids(model)).toEqual(['1:PENDING', '2:PENDING']);
    expect(missing).not.toHaveBeenCalled(); // it had opened: the route is there
    await new Promise(resolve => setTimeout(resolve, 1200));
    expect(sockets).toHaveLength(2);
    sockets[1].open();
    expect(sockets[1].sent).toEqual([{ subscribe: 'mine' }]);
    const finished = jest.fn();
    model.finished.connect((_, jobs) => finished(jobs.map(j => j.job_id)));
    sockets[1].receive(snapshot('v9', [['FAILED', '2', '0:00']]));
    expect(model.live).toBe(true);
    expect(finished).toHaveBeenCalledWith(['2']); // the same listing: not a first one
  });

  it('stays on polling with a server without the events route', async () => {
    missing.mockResolvedValue(true);
    fetched.mockResolvedValue(listing('1'));
    model = new QueueModel({ interval: 60, scope: 'mine' });
    await nextChange(model);
    sockets[0].drop(); // closed before it opened: the upgrade failed
    await new Promise(resolve => setTimeout(resolve, 1200));
    expect(missing).toHaveBeenCalledTimes(1);
    expect(sockets).toHaveLength(1);
    expect(model.live).toBe(false);
  });

  it('selects a job just submitted once a delta brings it', async () => {
    const socket = await start();
    socket.receive(snapshot('v1', [['PENDING', '1', '0:00']]));
    submitted.mockResolvedValue({ job_id: '7' });
    fetched.mockClear();
    fetched.mockResolvedValue(listing('1')); // the server has not listed it yet
    const select = jest.fn();
    model.selectRequested.connect((_, id) => select(id));
    await expect(model.submit('x', {}, 'k')).resolves.toBe('7');
    await pause();
    expect(fetched).toHaveBeenCalledTimes(1); // a refresh while pushed is one GET
    expect(select).not.toHaveBeenCalled();
    socket.receive(delta('v1', 'v2', [['PENDING', '7', '0:00']]));
    expect(select).toHaveBeenCalledWith('7');
    socket.receive(delta('v2', 'v3', [['RUNNING', '7', '0:00']]));
    expect(select).toHaveBeenCalledTimes(1);
  });

  it('subscribes to the other scope on a switch, ignoring the old one meanwhile', async () => {
    const socket = await start();
    socket.receive(snapshot('v1', [['PENDING', '1', '0:00']]));
    fetched.mockClear();
    const finished = jest.fn();
    model.finished.connect(finished);
    model.scope = 'all';
    expect(socket.sent).toEqual([{ subscribe: 'mine' }, { subscribe: 'all' }]);
    socket.receive(delta('v1', 'v2', [['PENDING', '5', '0:00']])); // still "mine"
    expect(ids(model)).toEqual(['1:PENDING']);
    socket.receive(
      snapshot(
        'a1',
        [
          ['COMPLETED', '1', '0:00'],
          ['PENDING', '4', '0:00']
        ],
        'all'
      )
    );
    expect(ids(model)).toEqual(['1:COMPLETED', '4:PENDING']);
    expect(finished).not.toHaveBeenCalled(); // the first listing of a scope
    await pause();
    expect(fetched).not.toHaveBeenCalled();
  });
});
