import React from 'react';

import { getAccount, IAccountInfo, ILimit } from '../api';
import { QueueModel } from '../model';
import { usePolledFetch } from './useModel';

function LimitRows(props: { scope: string; limits: ILimit[] }): JSX.Element {
  return (
    <>
      {props.limits.map(l => (
        <tr
          key={`${props.scope} ${l.name}`}
          data-limit={`${props.scope} ${l.name}`}
        >
          <td>{props.scope}</td>
          <td>{l.name}</td>
          <td>{l.used}</td>
          <td>{l.limit}</td>
          <td data-state={l.left === 0 ? 'FAILED' : undefined}>{l.left}</td>
        </tr>
      ))}
    </>
  );
}

/**
 * My account (GET account): fairshare per account, and every association and QOS limit set
 * on me with what is used and what is left. Refreshed with the queue's polls.
 */
export function AccountView(props: { model: QueueModel }): JSX.Element {
  const { data: info, error } = usePolledFetch<IAccountInfo>(
    props.model,
    getAccount,
    []
  );

  return (
    <div className="jp-SlurmLab-account">
      {error && (
        <div className="jp-SlurmLab-banner" role="alert">
          {error}
        </div>
      )}
      {info && (
        <div className="jp-SlurmLab-history-table jp-SlurmLab-account-tables">
          <table aria-label="Fairshare">
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Fairshare</th>
                <th scope="col">Usage</th>
              </tr>
            </thead>
            <tbody>
              {info.associations.map(a => (
                <tr key={a.account} data-account={a.account}>
                  <td>
                    {a.account}
                    {a.is_default ? ' (default)' : ''}
                  </td>
                  <td>{a.fairshare ?? 'n/a'}</td>
                  <td>{a.raw_usage ?? 'n/a'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table aria-label="Limits">
            <thead>
              <tr>
                <th scope="col">Where</th>
                <th scope="col">Limit</th>
                <th scope="col">Used</th>
                <th scope="col">Of</th>
                <th scope="col">Left</th>
              </tr>
            </thead>
            <tbody>
              {info.associations.map(a => (
                <LimitRows
                  key={a.account}
                  scope={`account ${a.account}`}
                  limits={a.limits}
                />
              ))}
              {info.qos.map(q => (
                <LimitRows
                  key={q.name}
                  scope={`QOS ${q.name}`}
                  limits={q.limits}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
