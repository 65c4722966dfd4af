import React, { useEffect, useState } from 'react';

import { getDetails, getOutput, IJobDetails } from '../api';
import { baseState, FINISHED } from '../logic';

const TAIL_INTERVAL_MS = 2000;

/** Every field Slurm reports, and the job's stdout/stderr tailed by offset while it runs. */
export function JobDetails(props: {
  jobId: string;
  onClose: () => void;
}): JSX.Element {
  const [details, setDetails] = useState<IJobDetails | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');

  useEffect(() => {
    setDetails(null);
    getDetails(props.jobId)
      .then(setDetails)
      .catch(e => setError(String(e.message ?? e)));
  }, [props.jobId]);

  const running = details
    ? !FINISHED.has(baseState(details.fields['JobState'] ?? ''))
    : false;
  return (
    <div
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
      {details && (
        <table className="jp-SlurmLab-fields">
          <tbody>
            {Object.entries(details.fields).map(([key, value]) => (
              <tr key={key}>
                <th>{key}</th>
                <td>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="jp-SlurmLab-tabs" role="tablist">
        {(['stdout', 'stderr'] as const).map(s => (
          <button
            key={s}
            role="tab"
            aria-selected={stream === s}
            className={
              'jp-SlurmLab-button' + (stream === s ? ' jp-mod-active' : '')
            }
            onClick={() => setStream(s)}
          >
            {s}
          </button>
        ))}
      </div>
      <LogViewer jobId={props.jobId} stream={stream} follow={running} />
    </div>
  );
}

/** Appends new bytes from the last offset: the file is never downloaded twice. */
export function LogViewer(props: {
  jobId: string;
  stream: 'stdout' | 'stderr';
  follow: boolean;
}): JSX.Element {
  const [text, setText] = useState('');
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let offset = 0;
    let stopped = false;
    setText('');
    setNote(null);
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

  return (
    <div
      className="jp-SlurmLab-log"
      aria-label={`${props.stream} of job ${props.jobId}`}
    >
      {note && <div className="jp-SlurmLab-muted">{note}</div>}
      <pre>{text}</pre>
    </div>
  );
}
