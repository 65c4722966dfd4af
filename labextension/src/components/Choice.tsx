import React from 'react';

/**
 * One of a few values, as a row of buttons: tabs (`role="tab"`, `aria-selected`) or a radio
 * group (`role="radio"`, `aria-checked`); the chosen one is highlighted.
 */
export function Choice<T extends string>(props: {
  label: string;
  role: 'tab' | 'radio';
  value: T;
  options: readonly (readonly [T, string])[];
  onChange: (value: T) => void;
  className?: string;
}): JSX.Element {
  return (
    <div
      className={props.className}
      role={props.role === 'tab' ? 'tablist' : 'radiogroup'}
      aria-label={props.label}
    >
      {props.options.map(([value, text]) => {
        const chosen = props.value === value;
        return (
          <button
            key={value}
            role={props.role}
            aria-selected={props.role === 'tab' ? chosen : undefined}
            aria-checked={props.role === 'radio' ? chosen : undefined}
            className={'jp-SlurmLab-button' + (chosen ? ' jp-mod-active' : '')}
            onClick={() => props.onChange(value)}
          >
            {text}
          </button>
        );
      })}
    </div>
  );
}
