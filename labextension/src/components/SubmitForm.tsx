import { ReactWidget } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { getPartitions, IPartition } from '../api';

export interface ISubmitValue {
  script: string;
  options: Record<string, string>;
}

const FIELDS: { key: string; label: string; placeholder: string }[] = [
  { key: 'job_name', label: 'Job name', placeholder: 'my-job' },
  { key: 'time', label: 'Time limit', placeholder: '1:00:00' },
  { key: 'nodes', label: 'Nodes', placeholder: '1' },
  { key: 'cpus_per_task', label: 'CPUs per task', placeholder: '1' },
  { key: 'mem', label: 'Memory', placeholder: '4G' },
  { key: 'gpus', label: 'GPUs', placeholder: 'a100:1' },
  { key: 'account', label: 'Account', placeholder: '' },
  { key: 'chdir', label: 'Working directory', placeholder: '/scratch/me/run1' }
];

function SubmitFormView(props: {
  initial: ISubmitValue;
  onChange: (value: ISubmitValue) => void;
}): JSX.Element {
  const [value, setValue] = useState<ISubmitValue>(props.initial);
  const [partitions, setPartitions] = useState<IPartition[]>([]);
  useEffect(() => {
    getPartitions()
      .then(r => setPartitions(r.partitions))
      .catch(() => setPartitions([]));
  }, []);
  const update = (next: ISubmitValue) => {
    setValue(next);
    props.onChange(next);
  };
  const setOption = (key: string, v: string) =>
    update({ ...value, options: { ...value.options, [key]: v } });
  return (
    <form className="jp-SlurmLab-submit" onSubmit={e => e.preventDefault()}>
      <label>
        Partition
        <select
          aria-label="Partition"
          value={value.options.partition ?? ''}
          onChange={e => setOption('partition', e.target.value)}
        >
          <option value="">(default)</option>
          {partitions.map(p => (
            <option key={p.name} value={p.name}>
              {p.name}
              {p.is_default ? ' (default)' : ''} · {p.idle_cpus}/{p.total_cpus}{' '}
              CPUs idle · max {p.max_time ?? 'n/a'}
            </option>
          ))}
        </select>
      </label>
      {FIELDS.map(f => (
        <label key={f.key}>
          {f.label}
          <input
            aria-label={f.label}
            placeholder={f.placeholder}
            value={value.options[f.key] ?? ''}
            onChange={e => setOption(f.key, e.target.value)}
          />
        </label>
      ))}
      <label className="jp-SlurmLab-script">
        Script
        <textarea
          aria-label="Batch script"
          rows={12}
          spellCheck={false}
          value={value.script}
          onChange={e => update({ ...value, script: e.target.value })}
        />
      </label>
    </form>
  );
}

/** The body of the submit dialog; `getValue()` gives the script and the non-empty options. */
export class SubmitForm extends ReactWidget {
  constructor(initial: ISubmitValue) {
    super();
    this._value = initial;
    this.addClass('jp-SlurmLab-submitDialog');
  }

  getValue(): ISubmitValue {
    const options = Object.fromEntries(
      Object.entries(this._value.options).filter(([, v]) => v.trim() !== '')
    );
    return { script: this._value.script, options };
  }

  render(): JSX.Element {
    return (
      <SubmitFormView initial={this._value} onChange={v => (this._value = v)} />
    );
  }

  private _value: ISubmitValue;
}
