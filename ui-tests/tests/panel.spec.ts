import { expect, galata, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

import { devcluster, openPanel, row } from './slurm';

function sbatch(...args: string[]): string {
  return execFileSync('sbatch', ['--parsable', '--output=/dev/null', ...args], {
    input: '#!/bin/sh\nsleep 120\n'
  })
    .toString()
    .trim();
}

function jobState(id: string): string {
  return execFileSync('scontrol', ['show', 'job', '-o', id]).toString().match(/JobState=(\S+)/)![1];
}

test.use({ autoGoto: true });

test('shows a job submitted outside, its HTML name as text', async ({ page }) => {
  const id = sbatch('--hold', '--job-name=<img src=x onerror=alert(1)>');
  await openPanel(page);
  await expect(row(page, id)).toBeVisible({ timeout: 20000 });
  await expect(row(page, id).locator('.jp-SlurmLab-name')).toHaveText('<img src=x onerror=alert(1)>');
  expect(await page.locator('.jp-SlurmLab-panel img').count()).toBe(0);
  execFileSync('scancel', [id]);
});

test('hold, release, then cancel with confirmation', async ({ page }) => {
  const id = sbatch('--begin=now+1hour', '--job-name=ui-actions');
  await openPanel(page);
  await row(page, id).click();
  await page.getByRole('button', { name: 'Hold', exact: true }).click();
  await expect(page.locator('.jp-SlurmLab-results')).toContainText(`${id} held`);
  // A user's hold is JobHeldUser; the tests' server runs as root, whose hold is JobHeldAdmin.
  expect(execFileSync('squeue', ['-h', '-j', id, '-o', '%r']).toString().trim()).toMatch(/^JobHeld(User|Admin)$/);
  await page.getByRole('button', { name: 'Release', exact: true }).click();
  await expect
    .poll(() => execFileSync('squeue', ['-h', '-j', id, '-o', '%r']).toString().trim())
    .not.toMatch(/^JobHeld/);
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Keep' }).click();
  expect(jobState(id)).toBe('PENDING');
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Cancel job' }).click();
  await expect.poll(() => jobState(id)).toBe('CANCELLED');
  await expect(row(page, id).locator('.jp-SlurmLab-state')).toHaveText('CA', { timeout: 20000 });
});

test('details and a running job output tail', async ({ page }) => {
  const id = execFileSync('sbatch', ['--parsable', '--job-name=ui-tail', '--output=/tmp/slurm-lab-ui-%j.out'], {
    input: '#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 1; done\n'
  })
    .toString()
    .trim();
  await openPanel(page);
  await row(page, id).dblclick();
  const details = page.locator('.jp-SlurmLab-details');
  await expect(details).toContainText('ui-tail');
  await expect(details.locator('.jp-SlurmLab-log pre')).toContainText('tick 1', { timeout: 20000 });
  await expect(details.locator('.jp-SlurmLab-log pre')).toContainText('tick 5', { timeout: 20000 });
  execFileSync('scancel', [id]);
});

test('controller down: stale banner, then it clears', async ({ page }) => {
  await openPanel(page);
  await expect(page.locator('.jp-SlurmLab-row[data-job-id]').first()).toBeVisible({ timeout: 20000 });
  devcluster('down', 'slurmctld');
  try {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(page.locator('.jp-SlurmLab-banner')).toContainText('controller', { timeout: 30000 });
    await expect(page.locator('.jp-SlurmLab-row[data-job-id]').first()).toBeVisible();
  } finally {
    devcluster('up');
  }
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.locator('.jp-SlurmLab-banner')).toHaveCount(0, { timeout: 40000 });
});

test('a collapsed pending array expands into its tasks', async ({ page }) => {
  const id = sbatch('--hold', '--array=0-4', '--job-name=ui-array');
  await openPanel(page);
  const collapsed = row(page, `${id}_[0-4]`);
  await expect(collapsed).toBeVisible({ timeout: 20000 });
  await expect(row(page, `${id}_3`)).toHaveCount(0);
  await collapsed.getByRole('button', { name: `Expand array ${id}_[0-4]` }).click();
  for (const task of ['0', '1', '2', '3', '4']) {
    await expect(row(page, `${id}_${task}`)).toBeVisible();
  }
  await row(page, `${id}_3`).click();
  await page.getByRole('button', { name: 'Release', exact: true }).click();
  await expect(page.locator('.jp-SlurmLab-results')).toContainText(`${id}_3 released`);
  // Slurm now lists 3 on its own and the rest as ${id}_[0-2,4]: the array stays expanded.
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(row(page, `${id}_4`)).toBeVisible({ timeout: 20000 });
  await expect(row(page, `${id}_3`)).toBeVisible();
  execFileSync('scancel', [id]);
});

test('a notification when my job finishes', async ({ page }) => {
  await openPanel(page);
  const id = execFileSync('sbatch', ['--parsable', '--output=/dev/null', '--job-name=ui-notify'], {
    input: '#!/bin/sh\nsleep 4\n'
  })
    .toString()
    .trim();
  await expect(row(page, id)).toBeVisible({ timeout: 20000 });
  await expect
    .poll(async () => (await page.notifications).map(n => `${n.type}: ${n.message}`).join('\n'), {
      timeout: 40000
    })
    .toContain(`success: Slurm job ${id} (ui-notify) completed`);
});
