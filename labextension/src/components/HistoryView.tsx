import React, { useMemo, useState } from 'react';

import { getHistory, IHistoricJob, IHistory, Scope } from '../api';
import { baseState, FAILED } from '../logic';
import { QueueModel } from '../model';
import { usePolledFetch } from './useModel';

const WINDOWS: [string, string][] = [
  ['now-1days', 'Last day'],
  ['now-7days', 'Last 7 days'],
  ['now-30days', 'Last 30 days']
];
const COLUMNS: [keyof IHistoricJob, string][] = [
  ['job_id', 'Job'],
  ['name', 'Name'],
  ['state', 'State'],
  ['exit_code', 'Exit'],
  ['elapsed', 'Elapsed'],
  ['end_time', 'Ended'],
  ['partition', 'Partition'],
  ['nodes', 'Nodes']
];

/** Finished jobs (GET history): newest first, with where they came from when accounting is off. */
export function HistoryView(props: {
  scope: Scope;
  model: QueueModel;
}): JSX.Element {
  const [since, setSince] = useState(WINDOWS[1][0]);
  // With the queue's polls: a job that just ended reaches accounting a moment later.
  const {
    data: history,
    error,
    refresh
  } = usePolledFetch<IHistory>(
    props.model,
    () => getHistory(props.scope, since),
    [props.scope, since]
  );
  const [text, setText] = useState('');

  const rows = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return [...(history?.jobs ?? [])]
      .filter(
        j =>
          !needle ||
          `${j.job_id} ${j.name} ${j.state}`.toLowerCase().includes(needle)
      )
      .sort((a, b) => (b.end_time ?? '').localeCompare(a.end_time ?? ''));
  }, [history, text]);

  return (
    <div className="jp-SlurmLab-history">
      <div className="jp-SlurmLab-toolbar">
        <select
          aria-label="History window"
          value={since}
          onChange={e => setSince(e.target.value)}
        >
          {WINDOWS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <input
          type="search"
          aria-label="Filter finished jobs"
          placeholder="Filter by id, name, state…"
          value={text}
          onChange={e => setText(e.target.value)}
        />
        <button
          className="jp-SlurmLab-button"
          aria-label="Refresh history"
          title="Refresh"
          onClick={refresh}
        >
          ⟳
        </button>
      </div>
      {error && (
        <div className="jp-SlurmLab-banner" role="alert">
          {error}
        </div>
      )}
      {history?.message && (
        <div className="jp-SlurmLab-muted jp-SlurmLab-count">
          {history.message}
        </div>
      )}
      <div className="jp-SlurmLab-history-table">
        <table aria-label="Finished jobs">
          <thead>
            <tr>
              {COLUMNS.map(([key, label]) => (
                <th key={key} scope="col">
                  {label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(j => (
              <tr key={j.job_id} data-job-id={j.job_id}>
                {COLUMNS.map(([key]) => (
                  <td
                    key={key}
                    data-state={
                      key === 'state'
                        ? FAILED.has(baseState(j.state))
                          ? 'FAILED'
                          : baseState(j.state)
                        : undefined
                    }
                    className={`jp-SlurmLab-cell jp-SlurmLab-${key}`}
                  >
                    {String(j[key] ?? '')}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {history && rows.length === 0 && (
          <p className="jp-SlurmLab-empty">No finished jobs in this window.</p>
        )}
      </div>
    </div>
  );
}
