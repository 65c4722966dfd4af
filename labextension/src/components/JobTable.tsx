import React, { useMemo, useRef, useState } from 'react';

import { IJob } from '../api';
import { SortKey, sortJobs, withExpanded } from '../logic';

export const ROW_HEIGHT = 24;
const OVERSCAN = 10;

const COLUMNS: { key: SortKey; label: string; width: string }[] = [
  { key: 'job_id', label: 'Job', width: '9em' },
  { key: 'name', label: 'Name', width: '12em' },
  { key: 'user', label: 'User', width: '7em' },
  { key: 'partition', label: 'Partition', width: '6em' },
  { key: 'state', label: 'State', width: '7em' },
  { key: 'reason', label: 'Reason', width: '8em' },
  { key: 'time_used', label: 'Used', width: '6em' },
  { key: 'time_limit', label: 'Limit', width: '7em' },
  { key: 'nodes', label: 'Nodes', width: '6em' },
  { key: 'submit_time', label: 'Submitted', width: '11em' },
  { key: 'start_time', label: 'Started', width: '11em' }
];

export interface IJobTableProps {
  jobs: IJob[];
  selected: ReadonlySet<string>;
  onSelect: (ids: Set<string>) => void;
  onOpen: (job: IJob) => void;
  height: number;
}

/**
 * Only the visible rows (plus a few) are in the DOM, so 10,000 jobs scroll smoothly. All text is
 * rendered as React text nodes: a job name is never HTML.
 */
export function JobTable(props: IJobTableProps): JSX.Element {
  const [sortKey, setSortKey] = useState<SortKey>('job_id');
  const [ascending, setAscending] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const anchor = useRef<number | null>(null);

  const rows = useMemo(
    () => withExpanded(sortJobs(props.jobs, sortKey, ascending), expanded),
    [props.jobs, sortKey, ascending, expanded]
  );
  const toggle = (event: React.MouseEvent, jobId: string) => {
    event.stopPropagation();
    const next = new Set(expanded);
    if (!next.delete(jobId)) {
      next.add(jobId);
    }
    setExpanded(next);
  };
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(props.height / ROW_HEIGHT) + 2 * OVERSCAN;
  const visible = rows.slice(first, first + count);

  const sortBy = (key: SortKey) => {
    if (key === sortKey) {
      setAscending(!ascending);
    } else {
      setSortKey(key);
      setAscending(true);
    }
  };

  const click = (event: React.MouseEvent, index: number, job: IJob) => {
    const next = new Set(event.ctrlKey || event.metaKey ? props.selected : []);
    if (event.shiftKey && anchor.current !== null) {
      const [lo, hi] = [anchor.current, index].sort((a, b) => a - b);
      rows.slice(lo, hi + 1).forEach(j => next.add(j.job_id));
    } else if (next.has(job.job_id)) {
      next.delete(job.job_id);
    } else {
      next.add(job.job_id);
      anchor.current = index;
    }
    props.onSelect(next);
  };

  return (
    <div className="jp-SlurmLab-table" role="grid" aria-rowcount={rows.length}>
      <div className="jp-SlurmLab-row jp-SlurmLab-header" role="row">
        {COLUMNS.map(c => (
          <button
            key={c.key}
            role="columnheader"
            className="jp-SlurmLab-cell"
            style={{ width: c.width }}
            aria-sort={
              c.key === sortKey
                ? ascending
                  ? 'ascending'
                  : 'descending'
                : 'none'
            }
            onClick={() => sortBy(c.key)}
          >
            {c.label}
            {c.key === sortKey ? (ascending ? ' ▲' : ' ▼') : ''}
          </button>
        ))}
      </div>
      <div
        className="jp-SlurmLab-body"
        style={{ height: props.height }}
        onScroll={e => setScrollTop(e.currentTarget.scrollTop)}
      >
        <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>
          {visible.map((job, i) => {
            const index = first + i;
            const isSelected = props.selected.has(job.job_id);
            return (
              <div
                key={job.job_id}
                role="row"
                aria-selected={isSelected}
                data-job-id={job.job_id}
                className={
                  'jp-SlurmLab-row' + (isSelected ? ' jp-mod-selected' : '')
                }
                style={{ top: index * ROW_HEIGHT, height: ROW_HEIGHT }}
                onClick={e => click(e, index, job)}
                onDoubleClick={() => props.onOpen(job)}
              >
                {COLUMNS.map(c => (
                  <span
                    key={c.key}
                    role="gridcell"
                    className={`jp-SlurmLab-cell jp-SlurmLab-${c.key}`}
                    style={{ width: c.width }}
                    title={String(job[c.key] ?? '')}
                    data-state={
                      c.key === 'state' ? job.state.split(' ')[0] : undefined
                    }
                  >
                    {c.key === 'job_id' && job.job_id.includes('_[') ? (
                      <button
                        className="jp-SlurmLab-toggle"
                        aria-label={`${expanded.has(job.job_id) ? 'Collapse' : 'Expand'} array ${job.job_id}`}
                        aria-expanded={expanded.has(job.job_id)}
                        onClick={e => toggle(e, job.job_id)}
                      >
                        {expanded.has(job.job_id) ? '▾' : '▸'}
                      </button>
                    ) : null}
                    {String(job[c.key] ?? '')}
                  </span>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
