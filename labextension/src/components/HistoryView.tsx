import React, { useMemo, useState } from 'react';

import { getHistory, IEfficiency, IHistoricJob, IHistory, Scope } from '../api';
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
  ['state', 'State'],
  ['efficiency', 'CPU / mem'],
  ['name', 'Name'],
  ['exit_code', 'Exit'],
  ['elapsed', 'Elapsed'],
  ['end_time', 'Ended'],
  ['partition', 'Partition'],
  ['nodes', 'Nodes']
];

function share(value: number | null): string {
  return value === null ? '–' : `${Math.round(value * 100)}%`;
}

/** A finished job's use of what it held, in a cell: "97% / 30%" (CPU / memory), notes on hover. */
export function efficiencyText(e: IEfficiency | null): string {
  if (!e || (e.cpu_efficiency === null && e.memory_efficiency === null)) {
    return '';
  }
  return `${share(e.cpu_efficiency)} / ${share(e.memory_efficiency)}`;
}

/**
 * Finished jobs (GET history): newest first, each with how much of what it held it used, and
 * where they came from when accounting is off. Enter or a click opens a job's details.
 */
export function HistoryView(props: {
  scope: Scope;
  model: QueueModel;
  open: string | null;
  onOpen: (jobId: string) => void;
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
              <tr
                key={j.job_id}
                data-job-id={j.job_id}
                tabIndex={0}
                aria-current={props.open === j.job_id ? 'true' : undefined}
                title={j.efficiency?.notes.join('\n') || undefined}
                onClick={() => props.onOpen(j.job_id)}
                onKeyDown={e => e.key === 'Enter' && props.onOpen(j.job_id)}
              >
                {COLUMNS.map(([key]) => (
                  <td
                    key={key}
                    data-wasteful={
                      key === 'efficiency' &&
                      Object.keys(j.efficiency?.suggestions ?? {}).length > 0
                        ? 'true'
                        : undefined
                    }
                    data-state={
                      key === 'state'
                        ? FAILED.has(baseState(j.state))
                          ? 'FAILED'
                          : baseState(j.state)
                        : undefined
                    }
                    className={`jp-SlurmLab-cell jp-SlurmLab-${key === 'efficiency' ? 'use' : key}`}
                  >
                    {key === 'efficiency'
                      ? efficiencyText(j.efficiency)
                      : String(j[key] ?? '')}
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
