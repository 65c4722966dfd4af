import { ReactWidget } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { ApiError, getPartitions, IPartition, ISbatchOption } from '../api';
import { outputWhere, scriptDirectives } from '../logic';

export interface ISubmitValue {
  script: string;
  /** Defaults the command chose (e.g. the file's folder); the script's #SBATCH lines win. */
  options: Record<string, string>;
  /** Right-sizing from a finished job's use (e.g. { mem: '400M' }), one click away. */
  suggestions?: Record<string, string>;
  /** Start with the suggestions applied (they win over the script's #SBATCH lines). */
  applySuggestions?: boolean;
  /** Where this start came from, e.g. "Job 12's script, kept when it was submitted". */
  origin?: string;
}

/** An answer from the API shown in the form: whose check it was, on which field. */
export interface ISubmitError {
  title: string;
  message: string;
  field: string | null;
}

/** The form's reading of an API error: slurm-lab's own check, or Slurm's refusal. */
export function submitError(
  reason: unknown,
  partitions: IPartition[],
  partition: string,
  options: ISbatchOption[]
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
    const option = options.find(o => o.name === field);
    const label = field ? (option?.form ?? field) : '';
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

/** An option's sbatch flag, as users type it ("--mem"). */
function flagOf(name: string, options: ISbatchOption[]): string {
  return options.find(o => o.name === name)?.flag ?? `--${name}`;
}

function SubmitFormView(props: { form: SubmitForm }): JSX.Element {
  const { form } = props;
  const [script, setScript] = useState(form.script);
  const [edited, setEdited] = useState<Record<string, string>>(form.edited);
  const [partitions, setPartitions] = useState<IPartition[]>([]);
  const options = form.options;
  useEffect(() => {
    getPartitions()
      .then(r => {
        setPartitions(r.partitions);
        form.partitions = r.partitions;
      })
      .catch(() => setPartitions([]));
  }, []);
  const fromScript = scriptDirectives(script, options);
  const inForm = options.filter(o => o.form);
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
  const suggested = Object.entries(form.suggestions);
  const applied = suggested.every(([k, v]) => value(k) === v);
  return (
    <form className="jp-SlurmLab-submit" onSubmit={e => e.preventDefault()}>
      {form.origin && <p className="jp-SlurmLab-muted">{form.origin}</p>}
      {suggested.length > 0 && (
        <div
          className="jp-SlurmLab-rightsize"
          role="group"
          aria-label="Right-size"
        >
          <span>
            Its last run suggests{' '}
            <code>
              {suggested
                .map(([k, v]) => `${flagOf(k, options)}=${v}`)
                .join(' ')}
            </code>
          </span>
          <button
            type="button"
            className="jp-mod-styled"
            disabled={applied}
            onClick={() => {
              const next = { ...edited, ...form.suggestions };
              setEdited(next);
              form.edited = next;
            }}
          >
            {applied ? 'Right-sized' : 'Apply right-size'}
          </button>
        </div>
      )}
      {form.note && (
        <div className="jp-SlurmLab-submit-note" role="status">
          {form.note}
          {form.warnings.length > 0 && (
            <ul
              className="jp-SlurmLab-warnings"
              aria-label="Limits it would hit"
            >
              {form.warnings.map(w => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
        </div>
      )}
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
      {inForm
        .filter(o => o.name !== 'partition' && o.kind !== 'switch')
        .map(o => input(o.name, o.form ?? o.name, `e.g. ${o.example}`))}
      {inForm
        .filter(o => o.kind === 'switch')
        .map(o => (
          <label key={o.name} className="jp-SlurmLab-check" title={o.help}>
            <input
              type="checkbox"
              checked={value(o.name) === 'true'}
              onChange={e => edit(o.name, e.target.checked ? 'true' : '')}
            />
            {o.form}
          </label>
        ))}
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
  /**
   * `options` is the API's option table (GET options): it must be known before the form
   * can tell which defaults the script's own #SBATCH lines replace.
   */
  constructor(initial: ISubmitValue, options: ISbatchOption[]) {
    super();
    this.script = initial.script;
    this.defaults = initial.options;
    this.suggestions = initial.suggestions ?? {};
    if (initial.applySuggestions) {
      this.edited = { ...this.suggestions };
    }
    this.origin = initial.origin ?? null;
    this.options = options;
    this.addClass('jp-SlurmLab-submitDialog');
  }

  script: string;
  readonly defaults: Record<string, string>;
  readonly suggestions: Record<string, string>;
  readonly origin: string | null;
  edited: Record<string, string> = {};
  partitions: IPartition[] = [];
  readonly options: ISbatchOption[];
  error: ISubmitError | null = null;
  /** Slurm's answer to "Will it run?", shown until the next check or submit. */
  note: string | null = null;
  /** The limits the test-only answer says the job would hit. */
  warnings: string[] = [];

  /** Show Slurm's test-only answer in the form, with the limits it would hit. */
  setNote(note: string, warnings: string[] = []): void {
    this.note = note;
    this.warnings = warnings;
    this.error = null;
    this.update();
  }

  /** Show an answer of the API in the form (called before the dialog is shown again). */
  setError(reason: unknown): void {
    this.note = null;
    this.error = submitError(
      reason,
      this.partitions,
      String(this.getValue().options.partition ?? ''),
      this.options
    );
    this.update();
  }

  getValue(): { script: string; options: Record<string, string | boolean> } {
    const fromScript = scriptDirectives(this.script, this.options);
    const switches = new Set(
      this.options.filter(o => o.kind === 'switch').map(o => o.name)
    );
    const options: Record<string, string | boolean> = {};
    for (const [key, v] of Object.entries(this.defaults)) {
      if (fromScript[key] === undefined && v.trim()) {
        options[key] = v.trim();
      }
    }
    for (const [key, v] of Object.entries(this.edited)) {
      if (switches.has(key)) {
        if (v === 'true') {
          options[key] = true;
        } else {
          delete options[key];
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
