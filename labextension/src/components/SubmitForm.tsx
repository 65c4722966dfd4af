import { ReactWidget } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { ApiError, getPartitions, IPartition } from '../api';
import { outputWhere, scriptDirectives } from '../logic';

export interface ISubmitValue {
  script: string;
  /** Defaults the command chose (e.g. the file's folder); the script's #SBATCH lines win. */
  options: Record<string, string>;
}

/** An answer from the API shown in the form: whose check it was, on which field. */
export interface ISubmitError {
  title: string;
  message: string;
  field: string | null;
}

const FIELDS: { key: string; label: string; placeholder: string }[] = [
  { key: 'job_name', label: 'Job name', placeholder: 'e.g. train-model' },
  {
    key: 'time',
    label: 'Time limit',
    placeholder: 'e.g. 1:00:00 or 2-00:00:00'
  },
  { key: 'nodes', label: 'Nodes', placeholder: 'e.g. 1' },
  { key: 'cpus_per_task', label: 'CPUs per task', placeholder: 'e.g. 4' },
  { key: 'mem', label: 'Memory', placeholder: 'e.g. 4G' },
  { key: 'gpus', label: 'GPUs', placeholder: 'e.g. 1 or a100:1' },
  { key: 'account', label: 'Account', placeholder: 'e.g. proj42' },
  { key: 'array', label: 'Array', placeholder: 'e.g. 0-9 or 1-100%10' },
  { key: 'dependency', label: 'Dependency', placeholder: 'e.g. afterok:1234' },
  { key: 'output', label: 'Output file', placeholder: 'e.g. logs/%x-%j.out' },
  {
    key: 'chdir',
    label: 'Working directory',
    placeholder: 'e.g. /scratch/me/run1'
  }
];
const LABELS: Record<string, string> = {
  partition: 'Partition',
  hold: 'Submit held',
  script: 'Batch script',
  ...Object.fromEntries(FIELDS.map(f => [f.key, f.label]))
};

/** The form's reading of an API error: slurm-lab's own check, or Slurm's refusal. */
export function submitError(
  reason: unknown,
  partitions: IPartition[],
  partition: string
): ISubmitError {
  if (!(reason instanceof ApiError)) {
    return {
      title: 'The job was not submitted',
      message: String(reason),
      field: null
    };
  }
  const body = reason.body as { field?: string } | null;
  const field = body?.field?.replace(/^options\./, '') ?? null;
  if (reason.reason === 'invalid_input') {
    const label = field ? (LABELS[field] ?? field) : '';
    const message = field
      ? reason.message.replace(/^[\w.]+: /, `${label}: `)
      : reason.message;
    return { title: "slurm-lab's check: fix this field", message, field };
  }
  if (reason.reason === 'slurm_rejected') {
    const target = partitions.find(p =>
      partition ? p.name === partition : p.is_default
    );
    const limit =
      /time limit/i.test(reason.message) && target
        ? `; partition ${target.name} allows at most ${target.max_time ?? 'UNLIMITED'}`
        : '';
    return {
      title: 'Slurm refused the job',
      message: reason.message + limit,
      field: /time limit/i.test(reason.message) ? 'time' : null
    };
  }
  return {
    title: 'The job was not submitted',
    message: reason.message,
    field: null
  };
}

function SubmitFormView(props: { form: SubmitForm }): JSX.Element {
  const { form } = props;
  const [script, setScript] = useState(form.script);
  const [edited, setEdited] = useState<Record<string, string>>(form.edited);
  const [partitions, setPartitions] = useState<IPartition[]>([]);
  useEffect(() => {
    getPartitions()
      .then(r => {
        setPartitions(r.partitions);
        form.partitions = r.partitions;
      })
      .catch(() => setPartitions([]));
  }, []);
  const fromScript = scriptDirectives(script);
  const value = (key: string) =>
    edited[key] ?? fromScript[key] ?? form.defaults[key] ?? '';
  const edit = (key: string, v: string) => {
    const next = { ...edited, [key]: v };
    setEdited(next);
    form.edited = next;
  };
  const error = form.error;
  const note = (key: string) =>
    edited[key] !== undefined &&
    fromScript[key] !== undefined &&
    edited[key] !== fromScript[key]
      ? `overrides #SBATCH ${key} = ${fromScript[key]} in the script`
      : fromScript[key] !== undefined && edited[key] === undefined
        ? 'from the script'
        : '';
  const input = (key: string, label: string, placeholder: string) => (
    <label key={key} className={error?.field === key ? 'jp-mod-invalid' : ''}>
      {label}
      <input
        aria-label={label}
        placeholder={placeholder}
        value={value(key)}
        aria-invalid={error?.field === key}
        aria-describedby={
          error?.field === key ? 'jp-SlurmLab-submit-error' : undefined
        }
        onChange={e => edit(key, e.target.value)}
      />
      {note(key) && <small className="jp-SlurmLab-muted">{note(key)}</small>}
    </label>
  );
  const home = form.defaults.chdir || 'your home folder';
  return (
    <form className="jp-SlurmLab-submit" onSubmit={e => e.preventDefault()}>
      {error && (
        <div
          className="jp-SlurmLab-submit-error"
          id="jp-SlurmLab-submit-error"
          role="alert"
        >
          <strong>{error.title}</strong>
          <div>{error.message}</div>
        </div>
      )}
      <label className={error?.field === 'partition' ? 'jp-mod-invalid' : ''}>
        Partition
        <select
          aria-label="Partition"
          value={value('partition')}
          onChange={e => edit('partition', e.target.value)}
        >
          <option value="">(the cluster's default)</option>
          {partitions.map(p => (
            <option key={p.name} value={p.name}>
              {p.name}
              {p.is_default ? ' (default)' : ''} · {p.idle_cpus}/{p.total_cpus}{' '}
              CPUs idle · max {p.max_time ?? 'n/a'}
            </option>
          ))}
        </select>
        {note('partition') && (
          <small className="jp-SlurmLab-muted">{note('partition')}</small>
        )}
      </label>
      {FIELDS.map(f => input(f.key, f.label, f.placeholder))}
      <label className="jp-SlurmLab-check">
        <input
          type="checkbox"
          checked={value('hold') === 'true'}
          onChange={e => edit('hold', e.target.checked ? 'true' : '')}
        />
        Submit held (release it from the panel)
      </label>
      <p className="jp-SlurmLab-where jp-SlurmLab-muted" aria-live="polite">
        Output will go to{' '}
        <code>
          {outputWhere({ ...form.defaults, ...fromScript, ...edited }, home)}
        </code>
      </p>
      <label className="jp-SlurmLab-script">
        Script (its #SBATCH lines fill the form; what you change here is passed
        to sbatch and wins)
        <textarea
          aria-label="Batch script"
          rows={12}
          spellCheck={false}
          value={script}
          onChange={e => {
            setScript(e.target.value);
            form.script = e.target.value;
          }}
        />
      </label>
    </form>
  );
}

/**
 * The body of the submit dialog. `getValue()` gives the script and the options to pass to
 * sbatch: what the user changed, plus the command's defaults the script does not set itself.
 */
export class SubmitForm extends ReactWidget {
  constructor(initial: ISubmitValue) {
    super();
    this.script = initial.script;
    this.defaults = initial.options;
    this.addClass('jp-SlurmLab-submitDialog');
  }

  script: string;
  readonly defaults: Record<string, string>;
  edited: Record<string, string> = {};
  partitions: IPartition[] = [];
  error: ISubmitError | null = null;

  /** Show an answer of the API in the form (called before the dialog is shown again). */
  setError(reason: unknown): void {
    this.error = submitError(
      reason,
      this.partitions,
      String(this.getValue().options.partition ?? '')
    );
    this.update();
  }

  getValue(): { script: string; options: Record<string, string | boolean> } {
    const fromScript = scriptDirectives(this.script);
    const options: Record<string, string | boolean> = {};
    for (const [key, v] of Object.entries(this.defaults)) {
      if (fromScript[key] === undefined && v.trim()) {
        options[key] = v.trim();
      }
    }
    for (const [key, v] of Object.entries(this.edited)) {
      if (key === 'hold') {
        if (v === 'true') {
          options.hold = true;
        }
      } else if (v.trim()) {
        options[key] = v.trim();
      } else {
        delete options[key];
      }
    }
    return { script: this.script, options };
  }

  render(): JSX.Element {
    return <SubmitFormView form={this} />;
  }
}
