/**
 * The answers users come for, in the panel: why a job waits, and the cluster's nodes. Each
 * checked against Slurm itself.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as path from 'path';

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
    await expect(why).toContainText('Expected start'); // a held job has no place in line (priority 0)
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

test('a node taken down shows its reason in the Nodes tab within one poll, and comes back', async ({ page }) => {
  const devcluster = (...args: string[]) =>
    execFileSync(path.resolve(__dirname, '../../.venv/bin/python'), ['-m', 'slurm_lab.devcluster', ...args]);
  await page.locator('li[data-id="slurm-lab-queue"]').click();
  await page.getByRole('tab', { name: 'Nodes' }).click();
  const c2 = page.getByRole('table', { name: 'Nodes' }).locator('tr[data-node="c2"]');
  await expect(c2).toBeVisible({ timeout: 20000 });
  devcluster('node', 'down', 'c2', '--reason', 'disk failed');
  try {
    await expect(c2).toContainText('disk failed', { timeout: 15000 }); // one 10 s poll
    await expect(c2.locator('td').nth(1)).toHaveText(/^down/);
    expect(execFileSync('sinfo', ['-h', '-n', 'c2', '-o', '%E']).toString().trim()).toBe('disk failed');
  } finally {
    devcluster('node', 'up', 'c2');
  }
  await expect(c2.locator('td').nth(1)).toHaveText(/^idle|^mix|^alloc/, { timeout: 20000 });
});

test('My account shows fairshare per account and the limits set, with what is left', async ({ page }) => {
  await page.locator('li[data-id="slurm-lab-queue"]').click();
  await page.getByRole('tab', { name: 'Account' }).click();
  const shares = page.getByRole('table', { name: 'Fairshare' });
  const accounts = execFileSync('sshare', ['-U', '-P', '-n', '-o', 'Account']).toString().split('\n').filter(Boolean);
  for (const account of accounts) {
    await expect(shares.locator(`tr[data-account="${account.trim()}"]`)).toBeVisible({ timeout: 20000 });
  }
  const qosLimit = page.getByRole('table', { name: 'Limits' }).locator('tr[data-limit="QOS limited GrpTRESMins cpu"]');
  await expect(qosLimit).toContainText('600');
});
