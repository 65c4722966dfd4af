import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { act, Action, IActionResult, Scope } from '../api';
import { filterJobs } from '../logic';
import { QueueModel } from '../model';
import { JobDetails } from './JobDetails';
import { JobTable } from './JobTable';

const ACTIONS: [Action, string][] = [
  ['cancel', 'Cancel'],
  ['hold', 'Hold'],
  ['release', 'Release']
];
const STATES = [
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT'
];

/** Keep `model` changes flowing into React state. */
function useModel(model: QueueModel): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion(v => v + 1);
    model.changed.connect(bump);
    return () => {
      model.changed.disconnect(bump);
    };
  }, [model]);
  return version;
}

function useHeight(ref: React.RefObject<HTMLDivElement>): number {
  const [height, setHeight] = useState(300);
  useEffect(() => {
    if (!ref.current) {
      return;
    }
    const observer = new ResizeObserver(entries =>
      setHeight(Math.max(120, entries[0].contentRect.height))
    );
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [ref]);
  return height;
}

function FilterSelect(props: {
  label: string;
  any: string;
  value: string;
  options: string[];
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <select
      aria-label={props.label}
      value={props.value}
      onChange={e => props.onChange(e.target.value)}
    >
      <option value="">{props.any}</option>
      {props.options.map(o => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

export function QueuePanel(props: { model: QueueModel }): JSX.Element {
  const { model } = props;
  useModel(model);
  const [scope, setScope] = useState<Scope>(model.scope);
  const [state, setState] = useState('');
  const [partition, setPartition] = useState('');
  const [text, setText] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [results, setResults] = useState<IActionResult[]>([]);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const bodyRef = useRef<HTMLDivElement>(null);
  const height = useHeight(bodyRef);
  useEffect(() => {
    const select = (_: QueueModel, jobId: string) =>
      setSelected(new Set([jobId]));
    model.selectRequested.connect(select);
    return () => {
      model.selectRequested.disconnect(select);
    };
  }, [model]);

  const jobs = model.jobs;
  const partitions = useMemo(
    () => [...new Set(jobs.map(j => j.partition))].sort(),
    [jobs]
  );
  const shown = useMemo(
    () => filterJobs(jobs, state, partition, text),
    [jobs, state, partition, text]
  );

  const changeScope = (next: Scope) => {
    setScope(next);
    model.scope = next;
  };

  const run = async (action: Action) => {
    // A collapsed pending array ("12_[3-9]") is acted on as the array.
    const ids = [...selected].map(id => id.split('_[')[0]);
    if (!ids.length) {
      return;
    }
    if (action === 'cancel') {
      const answer = await showDialog({
        title: 'Cancel jobs',
        body: `Cancel ${ids.length} job${ids.length > 1 ? 's' : ''}: ${ids.join(', ')}?`,
        buttons: [
          Dialog.cancelButton({ label: 'Keep' }),
          Dialog.warnButton({ label: 'Cancel jobs' })
        ]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    setBusy(true);
    try {
      setResults((await act(action, ids)).results);
    } catch (e) {
      setResults([
        {
          job_id: ids.join(','),
          ok: false,
          message: String((e as Error).message),
          reason: ''
        }
      ]);
    } finally {
      setBusy(false);
      void model.refresh();
    }
  };

  const error = model.error;
  return (
    <div className="jp-SlurmLab-panel">
      <div className="jp-SlurmLab-toolbar">
        <div role="radiogroup" aria-label="Whose jobs">
          {(['mine', 'all'] as Scope[]).map(s => (
            <button
              key={s}
              role="radio"
              aria-checked={scope === s}
              className={
                'jp-SlurmLab-button' + (scope === s ? ' jp-mod-active' : '')
              }
              onClick={() => changeScope(s)}
            >
              {s === 'mine' ? 'My jobs' : 'All jobs'}
            </button>
          ))}
        </div>
        <FilterSelect
          label="State filter"
          any="Any state"
          value={state}
          options={STATES}
          onChange={setState}
        />
        <FilterSelect
          label="Partition filter"
          any="Any partition"
          value={partition}
          options={partitions}
          onChange={setPartition}
        />
        <input
          type="search"
          aria-label="Filter jobs"
          placeholder="Filter"
          value={text}
          onChange={e => setText(e.target.value)}
        />
        <button
          className="jp-SlurmLab-button"
          aria-label="Refresh"
          title="Refresh"
          onClick={() => void model.refresh()}
        >
          ⟳
        </button>
      </div>
      {error && (
        <div className="jp-SlurmLab-banner" role="alert">
          {error.message}
          {model.stale && model.fetchedAt
            ? ` — showing data from ${new Date(model.fetchedAt).toLocaleTimeString()}`
            : ''}
        </div>
      )}
      <div className="jp-SlurmLab-actions">
        {ACTIONS.map(([action, label]) => (
          <button
            key={action}
            className="jp-SlurmLab-button"
            disabled={busy || !selected.size}
            onClick={() => void run(action)}
          >
            {label}
          </button>
        ))}
        <button
          className="jp-SlurmLab-button"
          disabled={selected.size !== 1}
          onClick={() => setOpen([...selected][0])}
        >
          Details
        </button>
        <span className="jp-SlurmLab-muted">
          {shown.length} of {jobs.length} jobs
          {selected.size ? ` · ${selected.size} selected` : ''}
        </span>
      </div>
      {results.length > 0 && (
        <ul className="jp-SlurmLab-results" aria-label="Action results">
          {results.map(r => (
            <li key={r.job_id} className={r.ok ? '' : 'jp-SlurmLab-error'}>
              {r.job_id}: {r.ok ? 'done' : r.message}
            </li>
          ))}
        </ul>
      )}
      <div className="jp-SlurmLab-grow" ref={bodyRef}>
        <JobTable
          jobs={shown}
          selected={selected}
          onSelect={setSelected}
          onOpen={job => setOpen(job.job_id)}
          height={height - 28}
        />
      </div>
      {open && <JobDetails jobId={open} onClose={() => setOpen(null)} />}
    </div>
  );
}
