/**
 * What a new user hit on the first day (array actions, big selections, grouped notifications,
 * the table's layout, the details view, the keyboard), replayed in Chromium and checked in Slurm.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { execFileSync } from 'child_process';

import { openPanel, row, sbatch, squeue } from './slurm';

test.use({ autoGoto: true });

/** Move the grid's focus to the row of `id` with the keyboard only. */
async function focusRow(page: Page, id: string): Promise<void> {
  await page.getByRole('grid', { name: 'Slurm jobs' }).focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < 200; i++) {
    const focused = page.locator('.jp-SlurmLab-row.jp-mod-focused');
    if ((await focused.getAttribute('data-job-id')) === id) {
      return;
    }
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`row ${id} not reached`);
}

test('cancelling the pending part of an array leaves its running tasks running (keyboard only)', async ({
  page
}) => {
  execFileSync('scancel', ['--user=root', '--state=RUNNING']);
  // Two GPU nodes with two GPUs each: exactly two tasks run, whatever else the cluster has free.
  const array = sbatch('--array=0-9', '--partition=gpu', '--gres=gpu:2', '--job-name=ui-sweep');
  await openPanel(page);
  const pending = `${array}_[2-9]`;
  await expect(row(page, pending)).toBeVisible({ timeout: 30000 });
  await expect(row(page, `${array}_1`)).toBeVisible();
  await focusRow(page, pending);
  await page.keyboard.press('Space');
  await expect(row(page, pending)).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Delete');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(
    `Cancel 8 pending tasks of array ${array} (${pending})? The array's 2 running tasks are not affected.`
  );
  // The safe button has the focus: Enter keeps the jobs.
  await expect(dialog.getByRole('button', { name: 'Keep' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(dialog).toHaveCount(0);
  expect(squeue('-j', array, '-t', 'PD', '-o', '%i')).toEqual([pending]);
  await page.getByRole('grid', { name: 'Slurm jobs' }).focus();
  await page.keyboard.press('Delete');
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Cancel 8 tasks' }).click();
  await expect(page.locator('.jp-SlurmLab-results')).toContainText(`${pending} cancelled`);
  await expect
    .poll(() => squeue('-j', array, '-o', '%i %T').sort())
    .toEqual([`${array}_0 RUNNING`, `${array}_1 RUNNING`, `${array} CANCELLED`].sort());
  execFileSync('scancel', [array]);
});

test('1,200 selected jobs are cancelled in batches, after a summary, with one notification', async ({
  page
}) => {
  const name = `ui-bulk-${Date.now()}`;
  execFileSync('python3', [
    '-c',
    "import subprocess,sys\nfor _ in range(1200): subprocess.run(['sbatch','--hold','--job-name='+sys.argv[1],'--output=/dev/null'], input=b'#!/bin/sh\\ntrue\\n', check=True, capture_output=True)",
    name
  ]);
  await openPanel(page);
  await page.getByRole('searchbox', { name: 'Filter jobs' }).fill(name);
  await expect(page.locator('.jp-SlurmLab-count')).toContainText('1,200 of', { timeout: 30000 });
  await page.getByRole('grid', { name: 'Slurm jobs' }).focus();
  await page.keyboard.press('Control+a');
  await expect(page.locator('.jp-SlurmLab-count')).toContainText('1,200 selected');
  await page.keyboard.press('Delete');
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.locator('.jp-Dialog-body')).toHaveText('Cancel 1,200 jobs (1,200 pending)?');
  await dialog.getByRole('button', { name: 'Cancel 1,200 jobs' }).click();
  await expect(page.locator('.jp-SlurmLab-results')).toContainText('1,200 cancelled', { timeout: 60000 });
  expect(squeue('-n', name, '-t', 'PD', '-o', '%i')).toEqual([]);
  // The next poll sees 1,200 jobs ended: one grouped notice, and a cancel is not an error.
  await expect
    .poll(async () => (await page.notifications).map(n => `${n.type}: ${n.message}`), { timeout: 40000 })
    .toContain('info: Slurm: 1,200 jobs cancelled');
  expect((await page.notifications).filter(n => n.type === 'error')).toHaveLength(0);
});

test('header and body share one scroll, column by column; details follow the job', async ({ page }) => {
  const id = execFileSync('sbatch', ['--parsable', '--job-name=ui-details', '--output=/tmp/slurm-lab-ui-%j.out'], {
    input: '#!/bin/sh\nfor i in $(seq 1 60); do echo line $i; sleep 0.5; done\n'
  })
    .toString()
    .trim();
  await page.evaluate(() => window.jupyterapp.commands.execute('slurm-lab:open-main'));
  const main = page.locator('#slurm-lab-queue-main');
  await expect(main.locator(`.jp-SlurmLab-row[data-job-id="${id}"]`)).toBeVisible({ timeout: 30000 });
  const header = main.locator('.jp-SlurmLab-header [role=columnheader]');
  const cells = main.locator(`.jp-SlurmLab-row[data-job-id="${id}"] [role=gridcell]`);
  expect(await header.count()).toBe(await cells.count());
  for (let i = 0; i < (await header.count()); i++) {
    const [h, c] = [await header.nth(i).boundingBox(), await cells.nth(i).boundingBox()];
    expect(Math.abs(h!.x - c!.x)).toBeLessThan(1);
    expect(Math.abs(h!.width - c!.width)).toBeLessThan(1);
  }
  // Only the grid scrolls sideways: scrolling it moves header and rows together.
  await main.getByRole('grid').evaluate(el => (el.scrollLeft = 200));
  const [h0, c0] = [await header.nth(3).boundingBox(), await cells.nth(3).boundingBox()];
  expect(Math.abs(h0!.x - c0!.x)).toBeLessThan(1);

  await main.locator(`.jp-SlurmLab-row[data-job-id="${id}"]`).dblclick();
  const details = main.locator('.jp-SlurmLab-details');
  await expect(details.locator('[data-field=JobState]')).toHaveText(/RUNNING/, { timeout: 20000 });
  const log = details.locator('.jp-SlurmLab-log pre');
  await expect(log).toContainText('line 12', { timeout: 20000 });
  // The tail follows: the newest line is scrolled into view.
  await expect
    .poll(() => log.evaluate(el => el.scrollTop + el.clientHeight >= el.scrollHeight - 4))
    .toBe(true);
  execFileSync('scancel', [id]);
  await expect(details.locator('[data-field=JobState]')).toHaveText(/CANCELLED/, { timeout: 30000 });
});

test("a pending job's start is never shown as Slurm's year-ahead guess", async ({ page }) => {
  execFileSync('scancel', ['--user=root', '--state=RUNNING']);
  // Jobs with no time limit ahead (a site's unlimited partition), on every CPU of every node.
  execFileSync('scontrol', ['update', 'PartitionName=debug', 'MaxTime=UNLIMITED']);
  const nodes = execFileSync('sinfo', ['-h', '-p', 'debug', '-N', '-o', '%N']).toString().split('\n').filter(Boolean);
  const busy = nodes.map(() => sbatch('--cpus-per-task=2', '--time=UNLIMITED', '--job-name=ui-busy'));
  const waiting = sbatch('--cpus-per-task=2', '--time=UNLIMITED', '--job-name=ui-waiting');
  try {
    // Backfill (every 30 s) guesses a start a year ahead for a job behind jobs with no time limit.
    await expect
      .poll(() => Date.parse(squeue('-j', waiting, '-o', '%S')[0]) - Date.now(), {
        timeout: 90000,
        intervals: [2000]
      })
      .toBeGreaterThan(300 * 24 * 3600 * 1000);
    await page.evaluate(() => window.jupyterapp.commands.execute('slurm-lab:open-main'));
    const main = page.locator('#slurm-lab-queue-main');
    await main.getByRole('button', { name: 'Refresh' }).click();
    await expect(main.locator(`.jp-SlurmLab-row[data-job-id="${waiting}"] .jp-SlurmLab-start_time`)).toHaveText('', {
      timeout: 20000
    });
    await expect(main.locator(`.jp-SlurmLab-row[data-job-id="${busy[0]}"] .jp-SlurmLab-start_time`)).toHaveText(
      /^\d{4}-\d\d-\d\dT/
    );
  } finally {
    execFileSync('scancel', [...busy, waiting]);
    execFileSync('scontrol', ['update', 'PartitionName=debug', 'MaxTime=1:00:00']);
  }
});

test('cancelling a whole array is its own choice, and says how many running tasks end', async ({ page }) => {
  execFileSync('scancel', ['--user=root', '--state=RUNNING']);
  const array = sbatch('--array=0-5', '--partition=gpu', '--gres=gpu:2', '--job-name=ui-whole');
  await openPanel(page);
  await expect(row(page, `${array}_1`)).toBeVisible({ timeout: 30000 });
  await row(page, `${array}_0`).dblclick();
  await page.getByRole('button', { name: 'Cancel whole array' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText(
    `Cancel all of array ${array}? 2 running tasks will end and 4 pending tasks will not start.`
  );
  await dialog.getByRole('button', { name: `Cancel array ${array}` }).click();
  await expect
    .poll(() => squeue('-j', array, '-t', 'PD,R', '-o', '%i'), { timeout: 20000 })
    .toEqual([]);
});

test('finished jobs in their own tab, from the history endpoint', async ({ page }) => {
  const id = execFileSync('sbatch', ['--parsable', '--output=/dev/null', '--job-name=ui-finished'], {
    input: '#!/bin/sh\ntrue\n'
  })
    .toString()
    .trim();
  await expect.poll(() => squeue('-j', id, '-o', '%T')[0], { timeout: 30000 }).toBe('COMPLETED');
  await openPanel(page);
  await page.getByRole('tab', { name: 'Finished', exact: true }).click();
  const finished = page.getByRole('table', { name: 'Finished jobs' });
  await expect(finished.locator(`tr[data-job-id="${id}"]`)).toContainText('ui-finished', { timeout: 20000 });
  await expect(finished.locator(`tr[data-job-id="${id}"] .jp-SlurmLab-state`)).toHaveText('COMPLETED');
  // The dev cluster has accounting (slurmdbd): no fallback message.
  await expect(page.locator('.jp-SlurmLab-history')).not.toContainText('accounting is disabled');
  await page.getByRole('tab', { name: 'Queue', exact: true }).click();
  await expect(page.getByRole('grid', { name: 'Slurm jobs' })).toBeVisible();
});

test('details: open the output in the editor, and resubmit the job', async ({ page, tmpPath }) => {
  const status = await page.evaluate(async () => (await fetch('/slurm-lab/api/status')).json());
  const folder = `${status.root_dir}/${tmpPath}`;
  execFileSync('mkdir', ['-p', folder]);
  const id = execFileSync(
    'sbatch',
    ['--parsable', '--job-name=ui-open', `--chdir=${folder}`, `--output=${folder}/out.txt`, '--time=5:00'],
    { input: '#!/bin/sh\necho hello from ui-open\n' }
  )
    .toString()
    .trim();
  await expect.poll(() => squeue('-j', id, '-o', '%T')[0], { timeout: 30000 }).toBe('COMPLETED');
  await openPanel(page);
  await row(page, id).dblclick();
  const details = page.locator('#slurm-lab-queue .jp-SlurmLab-details');
  await expect(details.locator('.jp-SlurmLab-log pre')).toContainText('hello from ui-open');
  await details.getByRole('button', { name: 'Open output' }).click();
  await expect(page.getByRole('main').getByRole('tab', { name: /out\.txt/ })).toBeVisible();
  // Submitted from a terminal: Slurm's own copy of its script, with the options its record shows.
  await details.getByRole('button', { name: 'Resubmit…' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.getByLabel('Batch script')).toHaveValue('#!/bin/sh\necho hello from ui-open\n');
  await expect(dialog).toContainText('as Slurm keeps it');
  await expect(dialog.getByLabel('Job name')).toHaveValue('ui-open');
  await expect(dialog.getByLabel('Time limit')).toHaveValue('00:05:00');
  await expect(dialog.getByLabel('Working directory')).toHaveValue(folder);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
});
