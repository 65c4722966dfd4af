import React from 'react';

import { baseState } from '../logic';
import { QueueModel } from '../model';
import { useModel } from './useModel';

/**
 * The status bar item: "Slurm: 2 running · 5 pending" for my jobs (everyone's when the user is
 * not known), following the queue model.
 */
export function StatusCounts(props: {
  model: QueueModel;
  user: string | null;
}): JSX.Element {
  useModel(props.model);
  const mine = props.model.jobs.filter(
    j => props.user === null || j.user === props.user
  );
  const count = (s: string) =>
    mine.filter(j => baseState(j.state) === s).length;
  return (
    <span className="jp-SlurmLab-status" title="My Slurm jobs">
      {`Slurm: ${count('RUNNING')} running · ${count('PENDING')} pending`}
    </span>
  );
}
