/**
 * The answers users come for, in the panel: why a job waits, and the cluster's nodes. Each
 * checked against Slurm itself.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

test.use({ autoGoto: true });

function sbatch(...args: string[]): string {
  return execFileSync('sbatch', ['--parsable', '--output=/dev/null', ...args], {
    input: '#!/bin/sh\nsleep 300\n'
  })
    .toString()
    .trim();
}

test('a held job says why it waits and what to do, on hover and in details', async ({ page }) => {
  const id = sbatch('--hold', '--job-name=why-held');
  try {
    await page.locator('li[data-id="slurm-lab-queue"]').click();
    const row = page.locator(`.jp-SlurmLab-row[data-job-id="${id}"]`);
    await expect(row).toBeVisible({ timeout: 20000 });
    await expect(row).toHaveAttribute('title', /JobHeldUser\n.*held by its owner.*\nRelease it to let it run\./s);
    await row.dblclick();
    const why = page.getByRole('region', { name: 'Why it waits' });
    await expect(why).toContainText('Why it waits (JobHeldUser)');
    await expect(why).toContainText('Release it to let it run.');
    await expect(why).toContainText('Place in line');
    expect(execFileSync('squeue', ['-h', '-j', id, '-o', '%r']).toString().trim()).toBe('JobHeldUser');
  } finally {
    execFileSync('scancel', [id]);
  }
});

test('the Nodes tab lists every node Slurm has, with its CPUs and state', async ({ page }) => {
  await page.locator('li[data-id="slurm-lab-queue"]').click();
  await page.getByRole('tab', { name: 'Nodes' }).click();
  const table = page.getByRole('table', { name: 'Nodes' });
  const names = execFileSync('sinfo', ['-h', '-N', '-o', '%N']).toString().split('\n').filter(Boolean);
  for (const name of new Set(names)) {
    const line = table.locator(`tr[data-node="${name}"]`);
    await expect(line).toBeVisible({ timeout: 20000 });
    const cpus = execFileSync('sinfo', ['-h', '-n', name, '-N', '-o', '%c']).toString().trim().split('\n')[0];
    await expect(line.locator('td').nth(2)).toContainText(`/${cpus}`);
  }
});
