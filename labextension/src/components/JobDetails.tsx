import React, { useEffect, useLayoutEffect, useRef, useState } from 'react';

import {
  getDetails,
  getOutput,
  IEfficiency,
  IJob,
  IJobDetails,
  IPendingInfo
} from '../api';
import {
  ACCOUNTING_RETRIES,
  baseState,
  efficiencySettled,
  FINISHED,
  needsReload,
  rowSignature,
  wholeArrayQuestion
} from '../logic';
import { QueueModel } from '../model';
import { Choice } from './Choice';
import { confirmAction } from './confirm';
import type { IPanelCommands } from './QueuePanel';
import { useSignal } from './useModel';

const TAIL_INTERVAL_MS = 2000;
const STREAMS = [
  ['stdout', 'stdout'],
  ['stderr', 'stderr']
] as const;

/** The fields people look for first, in this order; the rest are under "All Slurm fields". */
const SUMMARY: [string, string][] = [
  ['JobState', 'State'],
  ['Reason', 'Reason'],
  ['JobName', 'Name'],
  ['Partition', 'Partition'],
  ['NodeList', 'Nodes'],
  ['RunTime', 'Run time'],
  ['TimeLimit', 'Time limit'],
  ['SubmitTime', 'Submitted'],
  ['StartTime', 'Start'],
  ['EndTime', 'End'],
  ['WorkDir', 'Working directory'],
  ['StdOut', 'Output']
];

/**
 * One job: its output tailed while it runs (first, where the eye goes), the fields people look
 * for, and every field Slurm reports below. Refreshed with every poll of the queue until the
 * job ends, so a cancelled job does not keep saying RUNNING.
 */
export function JobDetails(props: {
  jobId: string;
  job: IJob | null;
  model: QueueModel;
  commands: IPanelCommands;
  onClose: () => void;
}): JSX.Element {
  const [details, setDetails] = useState<IJobDetails | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const state = baseState(details?.fields['JobState'] ?? '');
  const ended = FINISHED.has(state);

  const load = useRef<() => void>(() => undefined);
  /** The row as it was at the last load (see rowSignature). */
  const seen = useRef<string | null>(null);
  /** Reads since the job ended, while its efficiency was not yet settled. */
  const retries = useRef(0);
  useEffect(() => {
    let stopped = false;
    load.current = () =>
      void getDetails(props.jobId)
        .then(d => {
          if (!stopped) {
            setDetails(d);
            setError(null);
          }
        })
        .catch(e => !stopped && setError(String(e.message ?? e)));
    setDetails(null);
    retries.current = 0;
    const row = props.model.job(props.jobId);
    seen.current = row ? rowSignature(row) : null;
    load.current();
    return () => {
      stopped = true;
    };
  }, [props.jobId]);
  // Again when the job's row changes (state, reason, nodes, the minute of its run time) until it
  // ends: one scontrol per job per change, not per poll, whatever else in the queue moves.
  // A pushed queue does not change for the run time alone: each poll interval looks too.
  // Once it ended, again on each poll while accounting may still be writing its record.
  const check = () => {
    const row = props.model.job(props.jobId);
    if (!ended && needsReload(row, seen.current, details ? state : null)) {
      seen.current = row ? rowSignature(row) : null;
      load.current();
    } else if (
      ended &&
      !efficiencySettled(details?.efficiency ?? null) &&
      retries.current < ACCOUNTING_RETRIES
    ) {
      retries.current += 1;
      load.current();
    }
  };
  useSignal(props.model.changed, check);
  useSignal(props.model.polled, check);

  const fields = details?.fields ?? {};
  const arrayId =
    props.job?.array_job_id !== null && props.job?.array_job_id !== undefined
      ? String(props.job.array_job_id)
      : null;
  /** The one action on a whole array: it says how many running tasks it ends. */
  const cancelArray = async (id: string) => {
    const question = wholeArrayQuestion(id, props.model.jobs);
    if (
      await confirmAction(
        'Cancel a whole array',
        question,
        `Cancel array ${id}`
      )
    ) {
      await props.model.act('cancel', [id]);
    }
  };
  const stdout = fields['StdOut'];
  const workDir = fields['WorkDir'];
  const outputPath = stdout ? props.commands.contentsPath(stdout) : null;
  const folderPath = workDir ? props.commands.contentsPath(workDir) : null;
  return (
    <section
      className="jp-SlurmLab-details"
      aria-label={`Job ${props.jobId} details`}
    >
      <div className="jp-SlurmLab-details-header">
        <strong>Job {props.jobId}</strong>
        <button
          className="jp-SlurmLab-button"
          onClick={props.onClose}
          aria-label="Close details"
        >
          ✕
        </button>
      </div>
      {error && <div className="jp-SlurmLab-error">{error}</div>}
      <div className="jp-SlurmLab-actions">
        <button
          className="jp-SlurmLab-button"
          disabled={!outputPath}
          title={
            outputPath
              ? `Open ${stdout}`
              : 'The output file is not under the Jupyter root'
          }
          onClick={() => outputPath && props.commands.openFile(outputPath)}
        >
          Open output
        </button>
        <button
          className="jp-SlurmLab-button"
          disabled={folderPath === null}
          title={
            folderPath !== null
              ? `Show ${workDir}`
              : 'The folder is not under the Jupyter root'
          }
          onClick={() =>
            folderPath !== null && props.commands.openFolder(folderPath)
          }
        >
          Open working directory
        </button>
        <button
          className="jp-SlurmLab-button"
          disabled={!details}
          title="The submit form with this job's script and options"
          onClick={() =>
            props.commands.resubmit(
              props.jobId,
              fields,
              details?.efficiency?.suggestions
            )
          }
        >
          Resubmit…
        </button>
        {arrayId && !ended && (
          <button
            className="jp-SlurmLab-button"
            onClick={() => void cancelArray(arrayId)}
          >
            Cancel whole array
          </button>
        )}
      </div>
      <Choice
        className="jp-SlurmLab-tabs"
        label="Output stream"
        role="tab"
        value={stream}
        options={STREAMS}
        onChange={setStream}
      />
      <LogViewer
        jobId={props.jobId}
        stream={stream}
        follow={details !== null && !ended}
      />
      {details?.pending && <PendingView pending={details.pending} />}
      {details?.efficiency && (
        <EfficiencyView
          efficiency={details.efficiency}
          onApply={
            Object.keys(details.efficiency.suggestions).length
              ? () =>
                  details.efficiency &&
                  props.commands.resubmit(
                    props.jobId,
                    fields,
                    details.efficiency.suggestions,
                    true
                  )
              : null
          }
        />
      )}
      {details && (
        <>
          <table className="jp-SlurmLab-fields" aria-label="Summary">
            <tbody>
              {SUMMARY.filter(([key]) => fields[key]).map(([key, label]) => (
                <tr key={key}>
                  <th scope="row">{label}</th>
                  <td data-field={key}>{fields[key]}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details>
            <summary>All Slurm fields ({Object.keys(fields).length})</summary>
            <table className="jp-SlurmLab-fields">
              <tbody>
                {Object.entries(fields).map(([key, value]) => (
                  <tr key={key}>
                    <th scope="row">{key}</th>
                    <td>{value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </section>
  );
}

/**
 * Appends new bytes from the last offset (the file is never downloaded twice) and stays scrolled
 * to the end while the reader is there, so new lines come into view.
 */
export function LogViewer(props: {
  jobId: string;
  stream: 'stdout' | 'stderr';
  follow: boolean;
}): JSX.Element {
  const [text, setText] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);

  useEffect(() => {
    let offset = 0;
    let stopped = false;
    setText('');
    setNote(null);
    atEnd.current = true;
    const tick = async () => {
      try {
        for (;;) {
          const chunk = await getOutput(props.jobId, props.stream, offset);
          if (stopped) {
            return;
          }
          if (chunk.offset === 0 && offset !== 0) {
            setText(''); // the file was rewritten
          }
          setText(t => t + chunk.data);
          setNote(null);
          offset = chunk.next_offset;
          if (offset >= chunk.size) {
            break;
          }
        }
      } catch (e) {
        if (!stopped) {
          setNote(String((e as Error).message ?? e));
        }
      }
    };
    void tick();
    const timer = props.follow
      ? window.setInterval(tick, TAIL_INTERVAL_MS)
      : undefined;
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [props.jobId, props.stream, props.follow]);

  useLayoutEffect(() => {
    if (pre.current && atEnd.current) {
      pre.current.scrollTop = pre.current.scrollHeight;
    }
  }, [text]);

  return (
    <div
      className="jp-SlurmLab-log"
      role="tabpanel"
      aria-label={`${props.stream} of job ${props.jobId}`}
    >
      {note && <div className="jp-SlurmLab-muted">{note}</div>}
      <pre
        ref={pre}
        tabIndex={0}
        onScroll={e => {
          const el = e.currentTarget;
          atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
        }}
      >
        {text}
      </pre>
    </div>
  );
}

/** Why a pending job waits, what the user can do, when Slurm expects it to start, and its
 * place in its partition's line. */
function PendingView(props: { pending: IPendingInfo }): JSX.Element {
  const { pending } = props;
  const factors = Object.entries(pending.factors ?? {}).filter(([, v]) => v);
  return (
    <section className="jp-SlurmLab-pending" aria-label="Why it waits">
      <h4>Why it waits{pending.reason ? ` (${pending.reason})` : ''}</h4>
      {pending.explanation && <p>{pending.explanation}</p>}
      {pending.action && <p className="jp-SlurmLab-action">{pending.action}</p>}
      <table className="jp-SlurmLab-fields">
        <tbody>
          <tr>
            <th scope="row">Expected start</th>
            <td>{pending.expected_start ?? 'no estimate from Slurm yet'}</td>
          </tr>
          {pending.rank !== null && (
            <tr>
              <th scope="row">Place in line</th>
              <td>
                {pending.rank} of {pending.pending_in_partition} pending in its
                partition
              </td>
            </tr>
          )}
          {pending.priority !== null && (
            <tr>
              <th scope="row">Priority</th>
              <td>
                {pending.priority}
                {factors.length > 0 &&
                  ` (${factors.map(([k, v]) => `${k.replace('_', ' ')} ${v}`).join(', ')})`}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

function percent(share: number | null): string {
  return share === null ? 'n/a' : `${Math.round(share * 100)}%`;
}

/** How much of what it held a finished job used, and a one-click right-sized copy. */
function EfficiencyView(props: {
  efficiency: IEfficiency;
  onApply: (() => void) | null;
}): JSX.Element {
  const e = props.efficiency;
  return (
    <section className="jp-SlurmLab-efficiency" aria-label="Efficiency">
      <h4>Efficiency</h4>
      <table className="jp-SlurmLab-fields">
        <tbody>
          <tr>
            <th scope="row">CPU</th>
            <td>
              {percent(e.cpu_efficiency)} of {e.cpus} CPU
              {e.cpus === 1 ? '' : 's'}
            </td>
          </tr>
          <tr>
            <th scope="row">Memory</th>
            <td>{percent(e.memory_efficiency)} of what it held</td>
          </tr>
          <tr>
            <th scope="row">Time</th>
            <td>{percent(e.time_efficiency)} of its limit</td>
          </tr>
          {e.gpus > 0 && (
            <tr>
              <th scope="row">GPUs</th>
              <td>{e.gpus}</td>
            </tr>
          )}
        </tbody>
      </table>
      {e.notes.length > 0 && (
        <ul>
          {e.notes.map(note => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      {props.onApply && (
        <button className="jp-mod-styled" onClick={props.onApply}>
          Resubmit right-sized…
        </button>
      )}
    </section>
  );
}
