/**
 * The answers users come for, in the panel: why a job waits, and the cluster's nodes. Each
 * checked against Slurm itself.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

import { devcluster, sbatch } from './slurm';

test.use({ autoGoto: true });

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

test('Finished: a job that held too much shows it, and resubmits right-sized from the keyboard', async ({ page }) => {
  // Submitted from the form, so slurm-lab keeps its script: 150 MiB held for 6 s under --mem=1G.
  const script = '#!/bin/sh\npython3 -c "import time; b = bytearray(150 << 20); time.sleep(6)"\n';
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  const form = page.locator('.jp-Dialog');
  await form.getByLabel('Batch script').fill(script);
  await form.getByLabel('Job name').fill('right-size-me');
  await form.getByLabel('Memory').fill('1G');
  await form.getByLabel('Time limit').fill('30');
  await form.getByLabel('Output file').fill('/dev/null');
  await form.getByRole('button', { name: 'Submit' }).click();
  const selected = page.locator('.jp-SlurmLab-row.jp-mod-selected');
  await expect(selected).toHaveCount(1, { timeout: 20000 });
  const id = (await selected.getAttribute('data-job-id'))!;
  const again: string[] = [];
  try {
    // Accounting has its memory peak once the batch step ends.
    await expect
      .poll(() => execFileSync('sacct', ['-n', '-P', '-j', `${id}.batch`, '-o', 'MaxRSS']).toString().trim(), {
        timeout: 60000
      })
      .toMatch(/\d+K/);
    await page.getByRole('tab', { name: 'Finished' }).click();
    const line = page.getByRole('table', { name: 'Finished jobs' }).locator(`tr[data-job-id="${id}"]`);
    await expect(line.locator('.jp-SlurmLab-use')).toHaveText(/^\d+% \/ 1\d%$/, { timeout: 30000 });
    await expect(line.locator('td[data-wasteful="true"]')).toHaveCount(1);
    await line.focus();
    await page.keyboard.press('Enter');
    const efficiency = page.getByRole('region', { name: 'Efficiency' });
    await expect(efficiency).toContainText(/used 0\.\d GB of 1 GB: --mem=\d+M/);
    await efficiency.getByRole('button', { name: 'Resubmit right-sized…' }).press('Enter');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('as slurm-lab submitted them');
    await expect(dialog.getByLabel('Batch script')).toHaveValue(script);
    await expect(dialog.getByLabel('Job name')).toHaveValue('right-size-me');
    const mem = await dialog.getByLabel('Memory').inputValue();
    expect(mem).toMatch(/^[1-3]00M$/);
    await expect(dialog.getByRole('button', { name: 'Right-sized' })).toBeDisabled();
    await dialog.getByLabel('Submit held').check();
    await dialog.getByRole('button', { name: 'Submit' }).click();
    await expect(selected).not.toHaveAttribute('data-job-id', id, { timeout: 20000 });
    again.push((await selected.getAttribute('data-job-id'))!);
    const record = execFileSync('scontrol', ['show', 'job', '-o', again[0]]).toString();
    expect(record).toContain(`MinMemoryNode=${mem}`);
    expect(record).toContain('JobName=right-size-me');
    expect(record).toContain('Reason=JobHeldUser');
  } finally {
    execFileSync('scancel', [id, ...again]);
  }
});

test('details opened while a job runs show what it used once accounting has it, as sacct says', async ({ page }) => {
  const id = execFileSync('sbatch', ['--parsable', '--job-name=ui-settles', '--time=10', '--mem=1G', '--output=/dev/null'], {
    input: '#!/bin/sh\nsleep 4\n'
  })
    .toString()
    .trim();
  await page.evaluate(() => window.jupyterapp.commands.execute('slurm-lab:open-main'));
  const main = page.locator('#slurm-lab-queue-main');
  await main.locator(`.jp-SlurmLab-row[data-job-id="${id}"]`).dblclick({ timeout: 30000 });
  const details = main.locator('.jp-SlurmLab-details');
  await expect(details.locator('[data-field=JobState]')).toHaveText(/COMPLETED/, { timeout: 30000 });
  // Read as it ends, sacct may not have the time limit yet: the view asks again until it has.
  const efficiency = details.getByRole('region', { name: 'Efficiency' });
  await expect(efficiency.getByRole('row', { name: /Time/ })).toContainText(/\d+% of its limit/, { timeout: 30000 });
  expect(execFileSync('sacct', ['-X', '-n', '-P', '-j', id, '-o', 'TimelimitRaw']).toString().trim()).toBe('10');
  await expect(efficiency).toContainText('--time=5');
});
