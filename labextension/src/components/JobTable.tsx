import React, { useEffect, useMemo, useRef, useState } from 'react';

import { IExplanation, IJob } from '../api';
import {
  advancing,
  baseState,
  ISorted,
  resort,
  rowTitle,
  shortState,
  SortKey,
  startShown,
  timeUsed,
  withExpanded
} from '../logic';

export const ROW_HEIGHT = 24;
const OVERSCAN = 10;

export interface IColumn {
  key: SortKey;
  label: string;
  /** Width in px; 0 means "the width left over" (at least 60 px). */
  width: number;
}

/** Every column the full table can show, in order. */
export const ALL_COLUMNS: IColumn[] = [
  { key: 'job_id', label: 'Job', width: 110 },
  { key: 'name', label: 'Name', width: 180 },
  { key: 'user', label: 'User', width: 90 },
  { key: 'partition', label: 'Partition', width: 80 },
  { key: 'state', label: 'State', width: 100 },
  { key: 'reason', label: 'Reason', width: 120 },
  { key: 'time_used', label: 'Used', width: 80 },
  { key: 'time_limit', label: 'Limit', width: 90 },
  { key: 'nodes', label: 'Nodes', width: 80 },
  { key: 'submit_time', label: 'Submitted', width: 150 },
  { key: 'start_time', label: 'Start', width: 160 }
];

/** The sidebar's row: id, name (what is left), a state badge and the time used. */
export const COMPACT_COLUMNS: IColumn[] = [
  { key: 'job_id', label: 'Job', width: 84 },
  { key: 'name', label: 'Name', width: 0 },
  { key: 'state', label: 'St', width: 34 },
  { key: 'time_used', label: 'Time', width: 52 }
];

export interface IJobTableProps {
  jobs: IJob[];
  columns: IColumn[];
  selected: ReadonlySet<string>;
  onSelect: (ids: Set<string>) => void;
  onOpen: (job: IJob) => void;
  /** Delete pressed on the focused row or selection. */
  onDelete: () => void;
  height: number;
  width: number;
  /** A job to bring into view (e.g. one just submitted). */
  reveal?: string | null;
  /** What pending reasons mean, for the rows' tooltips. */
  explanations?: Record<string, IExplanation>;
}

/** How often the time used of running jobs in view moves on. */
const CLOCK_MS = 1000;

function cellText(
  job: IJob,
  key: SortKey,
  compact: boolean,
  now: number
): string {
  if (key === 'time_used') {
    return timeUsed(job, now);
  }
  if (key === 'start_time') {
    return startShown(job);
  }
  if (key === 'state' && compact) {
    return shortState(job.state);
  }
  return String(job[key] ?? '');
}

/**
 * A virtualized grid: only the visible rows (plus a few) are in the DOM, so 10,000 jobs scroll
 * smoothly. One element scrolls both ways, so the sticky header cannot drift from its columns.
 * A change of a few rows re-sorts those rows only (`resort`); the time used of the running jobs
 * in view advances every second on its own (the server sends no change for it).
 * Keyboard: arrows move, Space / Shift+Space select, Ctrl+A selects all, Enter opens details,
 * Delete asks to cancel. All text is React text: a job name is never HTML.
 */
export function JobTable(props: IJobTableProps): JSX.Element {
  const [sortKey, setSortKey] = useState<SortKey>('job_id');
  const [ascending, setAscending] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [focus, setFocus] = useState(0);
  const anchor = useRef<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const compact = props.columns === COMPACT_COLUMNS;
  const sorted = useRef<ISorted | null>(null);
  const [now, setNow] = useState(Date.now);

  const rows = useMemo(() => {
    sorted.current = resort(sorted.current, props.jobs, sortKey, ascending);
    return withExpanded(sorted.current.output, expanded);
  }, [props.jobs, sortKey, ascending, expanded]);
  const fixed = props.columns.reduce((n, c) => n + c.width, 0);
  const columns = props.columns.map(c =>
    c.width ? c : { ...c, width: Math.max(60, props.width - fixed - 14) }
  );
  const total = columns.reduce((n, c) => n + c.width, 0);
  const bodyHeight = props.height - ROW_HEIGHT;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const count = Math.ceil(bodyHeight / ROW_HEIGHT) + 2 * OVERSCAN;
  const visible = rows.slice(first, first + count);
  const current = Math.min(focus, Math.max(0, rows.length - 1));
  const running = visible.some(advancing);
  useEffect(() => {
    // Only the rows in view show a clock, so only they are rendered again each second.
    if (!running) {
      return;
    }
    setNow(Date.now());
    const timer = window.setInterval(
      () => !document.hidden && setNow(Date.now()),
      CLOCK_MS
    );
    return () => window.clearInterval(timer);
  }, [running]);

  const scrollTo = (index: number) => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    const top = index * ROW_HEIGHT;
    if (top < el.scrollTop) {
      el.scrollTop = top;
    } else if (top + ROW_HEIGHT > el.scrollTop + bodyHeight) {
      el.scrollTop = top + ROW_HEIGHT - bodyHeight;
    }
  };
  /** The job last brought into view: it is not brought back at every change of the rows. */
  const revealed = useRef<string | null>(null);
  useEffect(() => {
    if (!props.reveal || props.reveal === revealed.current) {
      return;
    }
    const index = rows.findIndex(j => j.job_id === props.reveal);
    if (index >= 0) {
      revealed.current = props.reveal;
      setFocus(index);
      scrollTo(index);
    }
  }, [props.reveal, rows]);

  /** Expand or collapse the pending tasks of the array of `job`. */
  const toggle = (event: React.SyntheticEvent, job: IJob) => {
    event.stopPropagation();
    const next = new Set(expanded);
    const key = String(job.array_job_id);
    if (!next.delete(key)) {
      next.add(key);
    }
    setExpanded(next);
  };
  const isExpanded = (job: IJob) => expanded.has(String(job.array_job_id));

  const sortBy = (key: SortKey) => {
    if (key === sortKey) {
      setAscending(!ascending);
    } else {
      setSortKey(key);
      setAscending(true);
    }
  };

  /** Select row `index`: alone, toggled into the selection, or a range from the anchor. */
  const choose = (index: number, mode: 'only' | 'toggle' | 'range') => {
    const job = rows[index];
    const next = new Set(mode === 'only' ? [] : props.selected);
    if (mode === 'range' && anchor.current !== null) {
      const [lo, hi] = [anchor.current, index].sort((a, b) => a - b);
      rows.slice(lo, hi + 1).forEach(j => next.add(j.job_id));
    } else if (mode === 'toggle' && next.has(job.job_id)) {
      next.delete(job.job_id);
    } else {
      next.add(job.job_id);
      anchor.current = index;
    }
    setFocus(index);
    props.onSelect(next);
  };

  const click = (event: React.MouseEvent, index: number) =>
    choose(
      index,
      event.shiftKey
        ? 'range'
        : event.ctrlKey || event.metaKey
          ? 'toggle'
          : 'only'
    );

  const keyDown = (event: React.KeyboardEvent) => {
    if (!rows.length) {
      return;
    }
    const move = (index: number) => {
      const next = Math.max(0, Math.min(rows.length - 1, index));
      setFocus(next);
      scrollTo(next);
      if (event.shiftKey) {
        choose(next, 'range');
      }
    };
    const page = Math.max(1, Math.floor(bodyHeight / ROW_HEIGHT) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(current + 1),
      ArrowUp: () => move(current - 1),
      PageDown: () => move(current + page),
      PageUp: () => move(current - page),
      Home: () => move(0),
      End: () => move(rows.length - 1),
      ' ': () => choose(current, event.shiftKey ? 'range' : 'toggle'),
      Enter: () => props.onOpen(rows[current]),
      Delete: () => props.onDelete(),
      ArrowRight: () =>
        rows[current].job_id.includes('_[') &&
        !isExpanded(rows[current]) &&
        toggle(event, rows[current]),
      ArrowLeft: () =>
        rows[current].job_id.includes('_[') &&
        isExpanded(rows[current]) &&
        toggle(event, rows[current])
    };
    if ((event.ctrlKey || event.metaKey) && event.key === 'a') {
      props.onSelect(new Set(rows.map(j => j.job_id)));
    } else if (keys[event.key]) {
      keys[event.key]();
    } else {
      return;
    }
    event.preventDefault();
  };

  const rowId = (index: number) => `jp-SlurmLab-row-${index}`;
  return (
    <div
      ref={scroller}
      className="jp-SlurmLab-table"
      role="grid"
      aria-label="Slurm jobs"
      aria-rowcount={rows.length + 1}
      aria-multiselectable="true"
      aria-activedescendant={rows.length ? rowId(current) : undefined}
      tabIndex={0}
      style={{ height: props.height }}
      onKeyDown={keyDown}
      onScroll={e => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div
        className="jp-SlurmLab-row jp-SlurmLab-header"
        role="row"
        aria-rowindex={1}
        style={{ width: total }}
      >
        {columns.map(c => (
          <span
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
          >
            <button
              className="jp-SlurmLab-sort"
              tabIndex={-1}
              title={`Sort by ${c.label}`}
              onClick={() => sortBy(c.key)}
            >
              {c.label}
              {c.key === sortKey ? (ascending ? ' ▲' : ' ▼') : ''}
            </button>
          </span>
        ))}
      </div>
      <div
        role="rowgroup"
        style={{ height: rows.length * ROW_HEIGHT, width: total }}
        className="jp-SlurmLab-rows"
      >
        {visible.map((job, i) => {
          const index = first + i;
          const isSelected = props.selected.has(job.job_id);
          const collapsed = job.job_id.includes('_[');
          return (
            <div
              key={job.job_id}
              id={rowId(index)}
              role="row"
              aria-rowindex={index + 2}
              aria-selected={isSelected}
              data-job-id={job.job_id}
              className={
                'jp-SlurmLab-row' +
                (isSelected ? ' jp-mod-selected' : '') +
                (index === current ? ' jp-mod-focused' : '')
              }
              style={{
                top: index * ROW_HEIGHT,
                height: ROW_HEIGHT,
                width: total
              }}
              title={rowTitle(job, props.explanations ?? {})}
              onClick={e => click(e, index)}
              onDoubleClick={() => props.onOpen(job)}
            >
              {columns.map(c => (
                <span
                  key={c.key}
                  role="gridcell"
                  className={`jp-SlurmLab-cell jp-SlurmLab-${c.key}`}
                  style={{ width: c.width }}
                  data-state={
                    c.key === 'state' ? baseState(job.state) : undefined
                  }
                >
                  {c.key === 'job_id' && collapsed ? (
                    <button
                      className="jp-SlurmLab-toggle"
                      tabIndex={-1}
                      aria-label={`${isExpanded(job) ? 'Collapse' : 'Expand'} array ${job.job_id}`}
                      aria-expanded={isExpanded(job)}
                      onClick={e => toggle(e, job)}
                    >
                      {isExpanded(job) ? '▾' : '▸'}
                    </button>
                  ) : null}
                  {cellText(job, c.key, compact, now)}
                </span>
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}
