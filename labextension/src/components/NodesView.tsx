import React, { useMemo, useState } from 'react';

import { getNodes, INode } from '../api';
import { QueueModel } from '../model';
import { usePolledFetch } from './useModel';

/** "down*" -> "down": the state without Slurm's markers, for colour and filters. */
function plainState(state: string): string {
  return state.split('+')[0].replace(/[*~#$@^%!-]+$/, '');
}

function usage(used: number, total: number): string {
  return total ? `${used}/${total}` : '—';
}

/**
 * The cluster's nodes (GET nodes), the columns people scan first (state, CPUs, GPUs, why
 * down) leftmost so the default sidebar shows them: CPUs, memory and GPUs in use and in total, and why a node
 * is down or drained. Refreshed with the queue's polls; the server asks Slurm once per window.
 */
export function NodesView(props: { model: QueueModel }): JSX.Element {
  // Every poll: a node going down changes no job, yet must show within one poll.
  const { data, error } = usePolledFetch(props.model, getNodes, []);
  const nodes: INode[] | null = data?.nodes ?? null;
  const [text, setText] = useState('');

  const rows = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return (nodes ?? []).filter(
      n =>
        !needle ||
        `${n.name} ${n.state} ${n.partitions.join(' ')} ${n.reason ?? ''}`
          .toLowerCase()
          .includes(needle)
    );
  }, [nodes, text]);
  const down = rows.filter(n => n.reason).length;

  return (
    <div className="jp-SlurmLab-nodes">
      <div className="jp-SlurmLab-toolbar">
        <input
          type="search"
          aria-label="Filter nodes"
          placeholder="Filter by name, state, partition…"
          value={text}
          onChange={e => setText(e.target.value)}
        />
      </div>
      {error && (
        <div className="jp-SlurmLab-banner" role="alert">
          {error}
        </div>
      )}
      {nodes && (
        <div className="jp-SlurmLab-muted jp-SlurmLab-count">
          {rows.length} nodes{down ? ` · ${down} down or drained` : ''}
        </div>
      )}
      <div className="jp-SlurmLab-history-table">
        <table aria-label="Nodes">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">State</th>
              <th scope="col">CPUs</th>
              <th scope="col">GPUs</th>
              <th scope="col">Reason</th>
              <th scope="col">Memory (MB)</th>
              <th scope="col">Partitions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(n => (
              <tr key={n.name} data-node={n.name}>
                <td>{n.name}</td>
                <td data-state={plainState(n.state).toUpperCase()}>
                  {n.state}
                </td>
                <td>{usage(n.cpus_allocated, n.cpus_total)}</td>
                <td>{usage(n.gpus_allocated, n.gpus_total)}</td>
                <td title={n.reason ?? ''}>{n.reason ?? ''}</td>
                <td>{usage(n.memory_allocated_mb, n.memory_total_mb)}</td>
                <td>{n.partitions.join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
