import React, { useEffect, useMemo, useRef, useState } from 'react';

import { Action, IActionResult, IJob, Scope } from '../api';
import { actionQuestion, filterJobs, taskCount, withExpanded } from '../logic';
import { QueueModel } from '../model';
import { Choice } from './Choice';
import { confirmAction } from './confirm';
import { HistoryView } from './HistoryView';
import { NodesView } from './NodesView';
import { AccountView } from './AccountView';
import { JobDetails } from './JobDetails';
import { ALL_COLUMNS, COMPACT_COLUMNS, IColumn, JobTable } from './JobTable';
import { useModel, useSignal } from './useModel';

/** What the panel asks of JupyterLab (dialogs, the editor, the file browser, the main area). */
export interface IPanelCommands {
  submit(): void;
  /**
   * The submit dialog with what made job ``jobId`` (its ``fields`` serve when its script is
   * gone); right-sizing ``suggestions`` one click away, or already applied with ``apply``.
   */
  resubmit(
    jobId: string,
    fields: Record<string, string>,
    suggestions?: Record<string, string>,
    apply?: boolean
  ): void;
  openFile(path: string): void;
  openFolder(path: string): void;
  /** The Jupyter contents path of a cluster-side absolute path, or null when it is not reachable. */
  contentsPath(path: string): string | null;
  openMain?: () => void;
}

const ACTIONS: [Action, string, string][] = [
  ['cancel', 'Cancel', 'cancelled'],
  ['hold', 'Hold', 'held'],
  ['release', 'Release', 'released']
];
const VIEWS = [
  ['queue', 'Queue'],
  ['history', 'Finished'],
  ['nodes', 'Nodes'],
  ['account', 'Account']
] as const;
const SCOPES = [
  ['mine', 'My jobs'],
  ['all', 'All jobs']
] as const;
const STATES = [
  'PENDING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT'
];

function useSize(ref: React.RefObject<HTMLDivElement>): [number, number] {
  const [size, setSize] = useState<[number, number]>([300, 300]);
  useEffect(() => {
    if (!ref.current) {
      return;
    }
    const observer = new ResizeObserver(entries => {
      const { width, height } = entries[0].contentRect;
      setSize([Math.max(200, width), Math.max(120, height)]);
    });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [ref]);
  return size;
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

function cancelLabel(rows: IJob[]): string {
  const total = rows.reduce((n, j) => n + taskCount(j), 0);
  const tasks = rows.every(j => j.job_id.includes('_'));
  return total === 1
    ? 'Cancel job'
    : `Cancel ${total.toLocaleString('en-US')} ${tasks ? 'tasks' : 'jobs'}`;
}

function ColumnChooser(props: {
  columns: IColumn[];
  onChange: (columns: IColumn[]) => void;
}): JSX.Element {
  const shown = new Set(props.columns.map(c => c.key));
  return (
    <details className="jp-SlurmLab-columns">
      <summary>Columns</summary>
      <fieldset aria-label="Columns shown">
        {ALL_COLUMNS.map(c => (
          <label key={c.key}>
            <input
              type="checkbox"
              checked={shown.has(c.key)}
              disabled={c.key === 'job_id'}
              onChange={e =>
                props.onChange(
                  ALL_COLUMNS.filter(x =>
                    x.key === c.key ? e.target.checked : shown.has(x.key)
                  )
                )
              }
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    </details>
  );
}

function Results(props: {
  verb: string;
  results: IActionResult[];
  onDismiss: () => void;
}): JSX.Element {
  const failed = props.results.filter(r => !r.ok);
  const done = props.results.length - failed.length;
  return (
    <div
      className="jp-SlurmLab-results"
      role="status"
      aria-label="Action results"
    >
      <button
        className="jp-SlurmLab-toggle"
        aria-label="Dismiss results"
        onClick={props.onDismiss}
      >
        ✕
      </button>
      {done > 0 && (
        <span>
          {props.results.length === 1
            ? `${props.results[0].job_id} ${props.verb}`
            : `${done.toLocaleString('en-US')} ${props.verb}`}
          {failed.length ? '; ' : ''}
        </span>
      )}
      {failed.length > 0 && (
        <ul>
          {failed.slice(0, 20).map(r => (
            <li key={r.job_id} className="jp-SlurmLab-error">
              {r.job_id}: {r.message}
            </li>
          ))}
          {failed.length > 20 && <li>… and {failed.length - 20} more</li>}
        </ul>
      )}
    </div>
  );
}

export function QueuePanel(props: {
  model: QueueModel;
  mode: 'sidebar' | 'main';
  commands: IPanelCommands;
}): JSX.Element {
  const { model, commands } = props;
  useModel(model);
  const [scope, setScope] = useState<Scope>(model.scope);
  const [state, setState] = useState('');
  const [partition, setPartition] = useState('');
  const [text, setText] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [results, setResults] = useState<{
    verb: string;
    results: IActionResult[];
  } | null>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const [reveal, setReveal] = useState<string | null>(null);
  const [wanted, setWanted] = useState<string | null>(null);
  const [view, setView] = useState<'queue' | 'history' | 'nodes' | 'account'>(
    'queue'
  );
  const [columns, setColumns] = useState<IColumn[]>(
    props.mode === 'sidebar' ? COMPACT_COLUMNS : ALL_COLUMNS
  );
  const bodyRef = useRef<HTMLDivElement>(null);
  const [width, height] = useSize(bodyRef);
  useSignal(model.selectRequested, (_, jobId) => {
    // A job just submitted (e.g. resubmitted from Finished) is shown where it is: the queue.
    setView('queue');
    setOpen(null);
    setWanted(jobId);
  });
  useEffect(() => {
    // Select a job asked for (e.g. just submitted) once the listing has it; a new array
    // shows as its tasks ("42_[0-9]", "42_0"), so those rows are selected.
    const rows = wanted
      ? model.jobs.filter(
          j => j.job_id === wanted || String(j.array_job_id) === wanted
        )
      : [];
    if (rows.length) {
      setSelected(new Set(rows.map(j => j.job_id)));
      setReveal(rows[0].job_id);
      setWanted(null);
    }
  }, [wanted, model.jobs]);
  useEffect(() => {
    // Results fade when all went well; failures stay until dismissed.
    if (results && results.results.every(r => r.ok)) {
      const timer = window.setTimeout(() => setResults(null), 8000);
      return () => window.clearTimeout(timer);
    }
  }, [results]);

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

  /** The rows selected, as shown (expanded array tasks included). */
  const selectedRows = (): IJob[] => {
    const expandedAll = withExpanded(
      shown,
      new Set(shown.map(j => String(j.array_job_id)))
    );
    return expandedAll.filter(j => selected.has(j.job_id));
  };

  const run = async (action: Action) => {
    const rows = selectedRows();
    if (!rows.length) {
      return;
    }
    const verb = ACTIONS.find(([a]) => a === action)?.[2] ?? 'done';
    if (
      action === 'cancel' &&
      !(await confirmAction(
        'Cancel jobs',
        actionQuestion('Cancel', rows, jobs),
        cancelLabel(rows)
      ))
    ) {
      return;
    }
    setBusy(true);
    try {
      // Exactly what each row shows: "12_[3-9]" acts on those pending tasks only.
      setResults({
        verb,
        results: await model.act(
          action,
          rows.map(j => j.job_id)
        )
      });
    } finally {
      setBusy(false);
    }
  };

  const error = model.error;
  const single = selected.size === 1 ? [...selected][0] : null;
  const openJob = (open && model.job(open)) || null;
  return (
    <div className={`jp-SlurmLab-panel jp-SlurmLab-${props.mode}`}>
      <Choice
        className="jp-SlurmLab-viewtabs"
        label="View"
        role="tab"
        value={view}
        options={VIEWS}
        onChange={setView}
      />
      <div className="jp-SlurmLab-toolbar">
        <Choice
          label="Whose jobs"
          role="radio"
          value={scope}
          options={SCOPES}
          onChange={changeScope}
        />
        <button
          className="jp-SlurmLab-button jp-mod-accept"
          onClick={() => commands.submit()}
        >
          Submit…
        </button>
        <button
          className="jp-SlurmLab-button"
          aria-label="Refresh"
          title="Refresh"
          onClick={() => void model.refresh()}
        >
          ⟳
        </button>
        {commands.openMain && (
          <button
            className="jp-SlurmLab-button"
            aria-label="Open in main area"
            title="Open the full table in the main area"
            onClick={() => commands.openMain?.()}
          >
            ⤢
          </button>
        )}
      </div>
      {view === 'account' ? (
        <AccountView model={model} />
      ) : view === 'nodes' ? (
        <NodesView model={model} />
      ) : view === 'history' ? (
        <HistoryView scope={scope} model={model} open={open} onOpen={setOpen} />
      ) : (
        <>
          <div className="jp-SlurmLab-toolbar">
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
              placeholder="Filter by id, name, user…"
              value={text}
              onChange={e => setText(e.target.value)}
            />
            {props.mode === 'main' && (
              <ColumnChooser columns={columns} onChange={setColumns} />
            )}
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
              disabled={!single}
              onClick={() => setOpen(single)}
            >
              Details
            </button>
          </div>
          <div
            className="jp-SlurmLab-count jp-SlurmLab-muted"
            aria-live="polite"
          >
            {shown.length.toLocaleString('en-US')} of{' '}
            {jobs.length.toLocaleString('en-US')} jobs
            {selected.size
              ? ` · ${selected.size.toLocaleString('en-US')} selected`
              : ''}
          </div>
          {results && (
            <Results
              verb={results.verb}
              results={results.results}
              onDismiss={() => setResults(null)}
            />
          )}
          <div className="jp-SlurmLab-grow" ref={bodyRef}>
            {jobs.length === 0 && !error && model.fetchedAt ? (
              <div className="jp-SlurmLab-empty">
                <p>
                  No {scope === 'mine' ? 'jobs of yours' : 'jobs'} in the queue.
                </p>
                <p>
                  Submit a script with <strong>Submit…</strong> (or right-click
                  a file → Submit as batch job), run a notebook cell on the
                  cluster with <code>%%slurm</code>, or use <code>sbatch</code>{' '}
                  in a terminal.
                </p>
              </div>
            ) : (
              <JobTable
                jobs={shown}
                explanations={model.explanations}
                columns={columns}
                selected={selected}
                onSelect={setSelected}
                onOpen={job => setOpen(job.job_id)}
                onDelete={() => void run('cancel')}
                height={height}
                width={width}
                reveal={reveal}
              />
            )}
          </div>
        </>
      )}
      {open && (view === 'queue' || view === 'history') && (
        <JobDetails
          jobId={open}
          job={openJob}
          model={model}
          commands={commands}
          onClose={() => setOpen(null)}
        />
      )}
    </div>
  );
}
