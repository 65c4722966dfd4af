import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';

function job(id: string): string {
  return execFileSync('scontrol', ['show', 'job', '-o', id]).toString();
}

test.use({ autoGoto: true });

test('submit from the dialog: Slurm rejects, then the job appears selected', async ({ page }) => {
  // Not awaited in the page: the command resolves only once the dialog closes.
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByLabel('Batch script').fill('#!/bin/sh\nsleep 60\n');
  await dialog.getByLabel('Partition').selectOption('long');
  await dialog.getByLabel('Job name').fill('from-the-dialog');
  await dialog.getByLabel('Time limit').fill('8-00:00:00'); // over long's 7 days
  await dialog.getByRole('button', { name: 'Submit' }).click();
  // The form comes back with Slurm's refusal on the field, the partition's limit, values kept.
  const again = page.locator('.jp-Dialog');
  await expect(again.getByRole('alert')).toContainText('Slurm refused the job');
  await expect(again.getByRole('alert')).toContainText('Requested time limit is invalid');
  await expect(again.getByRole('alert')).toContainText('partition long allows at most 7-00:00:00');
  await expect(again.getByLabel('Time limit')).toHaveAttribute('aria-invalid', 'true');
  await expect(again.getByLabel('Job name')).toHaveValue('from-the-dialog');
  await again.getByLabel('Time limit').fill('10:00');
  await again.getByRole('button', { name: 'Submit' }).click();
  const selected = page.locator('.jp-SlurmLab-row.jp-mod-selected');
  await expect(selected).toHaveCount(1, { timeout: 20000 });
  const id = (await selected.getAttribute('data-job-id'))!;
  expect(job(id)).toContain('JobName=from-the-dialog');
  expect(job(id)).toContain('Partition=long');
  execFileSync('scancel', [id]);
});

test('"Will it run?" shows when and where Slurm would start it, and makes no job', async ({ page }) => {
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByLabel('Batch script').fill('#!/bin/sh\nsleep 60\n');
  await dialog.getByLabel('Partition').selectOption('long');
  await dialog.getByLabel('Job name').fill('only-a-test');
  await dialog.getByLabel('Time limit').fill('10');
  await dialog.getByRole('button', { name: 'Will it run?' }).click();
  const note = page.locator('.jp-Dialog').getByRole('status');
  await expect(note).toContainText('Slurm would start it at');
  await expect(note).toContainText('partition long');
  await expect(note).toContainText('No job was made');
  await expect(page.locator('.jp-Dialog').getByLabel('Job name')).toHaveValue('only-a-test'); // values kept
  // Slurm's refusal lands on the form like a submit's would.
  await page.locator('.jp-Dialog').getByLabel('Time limit').fill('8-00:00:00');
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Will it run?' }).click();
  await expect(page.locator('.jp-Dialog').getByRole('alert')).toContainText('Requested time limit is invalid');
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Cancel' }).click();
  expect(execFileSync('squeue', ['-h', '--states=all', '-n', 'only-a-test']).toString().trim()).toBe('');
});

test('submit a script file from the file browser context menu', async ({ page, tmpPath }) => {
  await page.contents.uploadContent(
    '#!/bin/sh\n#SBATCH --job-name=from-a-file\nsleep 60\n',
    'text',
    `${tmpPath}/job.sh`
  );
  await page.filebrowser.refresh();
  await page.locator('.jp-DirListing-item:has-text("job.sh")').click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Submit as batch job' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.getByLabel('Batch script')).toHaveValue(/from-a-file/);
  await expect(dialog.getByLabel('Job name')).toHaveValue('from-a-file'); // read from #SBATCH
  await expect(dialog.getByText('from the script')).toBeVisible();
  await expect(dialog.getByLabel('Working directory')).toHaveValue(new RegExp(`^/\\S*/${tmpPath}$`));
  await expect(dialog.locator('.jp-SlurmLab-where')).toContainText(`${tmpPath}/slurm-%j.out`);
  await dialog.getByRole('button', { name: 'Submit' }).click();
  const selected = page.locator('.jp-SlurmLab-row.jp-mod-selected');
  await expect(selected).toHaveCount(1, { timeout: 20000 });
  const id = (await selected.getAttribute('data-job-id'))!;
  expect(job(id)).toContain('JobName=from-a-file');
  // The file's real folder (absolute, under the Jupyter root): the job starts there.
  expect(job(id)).toMatch(new RegExp(`WorkDir=/\\S*/${tmpPath}( |$)`, 'm'));
  await expect.poll(() => job(id).match(/JobState=(\S+)/)![1], { timeout: 30000 }).toBe('RUNNING');
  execFileSync('scancel', [id]);
});

test("a script's own #SBATCH --chdir wins over the file's folder, even on an immediate submit", async ({
  page,
  tmpPath
}) => {
  // A slow option table: the dialog must not offer a submit that ignores the script's lines.
  await page.route('**/slurm-lab/api/options', async route => {
    await new Promise(resolve => setTimeout(resolve, 1500));
    await route.continue();
  });
  await page.contents.uploadContent(
    '#!/bin/sh\n#SBATCH --chdir=/tmp\n#SBATCH --job-name=own-chdir\nsleep 60\n',
    'text',
    `${tmpPath}/own.sh`
  );
  await page.filebrowser.refresh();
  await page.locator('.jp-DirListing-item:has-text("own.sh")').click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Submit as batch job' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Submit' }).click();
  const selected = page.locator('.jp-SlurmLab-row.jp-mod-selected');
  await expect(selected).toHaveCount(1, { timeout: 20000 });
  const id = (await selected.getAttribute('data-job-id'))!;
  expect(job(id)).toContain('JobName=own-chdir');
  expect(job(id)).toMatch(/WorkDir=\/tmp( |$)/m);
  execFileSync('scancel', [id]);
});

test('with a notebook active, the submit dialog takes the active cell, never "[object Object]"', async ({
  page
}) => {
  await page.notebook.createNew('job.ipynb');
  await page.notebook.setCell(0, 'code', '#!/bin/bash\n#SBATCH --job-name=from-a-cell\nhostname');
  await page.notebook.selectCells(0);
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  const script = page.locator('.jp-Dialog').getByLabel('Batch script');
  await expect(script).toHaveValue(/from-a-cell/);
  await expect(script).not.toHaveValue(/object Object/);
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Cancel' }).click();
});

test("slurm-lab's own check names the field by its label; array, hold and output reach Slurm", async ({
  page
}) => {
  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByLabel('Batch script').fill('#!/bin/sh\n#SBATCH --time=5:00\nsleep 60\n');
  await expect(dialog.getByLabel('Time limit')).toHaveValue('5:00');
  await dialog.getByLabel('Memory').fill('4X');
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await expect(dialog.getByRole('alert')).toContainText("slurm-lab's check");
  await expect(dialog.getByRole('alert')).toContainText('Memory: invalid value');
  await expect(dialog.getByLabel('Memory')).toHaveAttribute('aria-invalid', 'true');
  await dialog.getByLabel('Memory').fill('100M');
  await dialog.getByLabel('Time limit').fill('7:00');
  await expect(dialog.getByText('overrides #SBATCH time = 5:00 in the script')).toBeVisible();
  await dialog.getByLabel('Array').fill('0-2');
  await dialog.getByLabel('Output file').fill('/tmp/ui-array-%A_%a.out');
  await dialog.getByLabel('Submit held').check();
  await expect(dialog.locator('.jp-SlurmLab-where')).toContainText('/tmp/ui-array-%A_%a.out');
  await dialog.getByRole('button', { name: 'Submit' }).click();
  // The new array is selected as it shows: its pending tasks collapsed in one row.
  const selected = page.locator('.jp-SlurmLab-row.jp-mod-selected');
  await expect(selected).toHaveCount(1, { timeout: 20000 });
  await expect(selected).toHaveAttribute('data-job-id', /^\d+_\[0-2\]$/);
  const id = (await selected.getAttribute('data-job-id'))!.split('_')[0];
  const shown = job(id);
  expect(shown).toContain('TimeLimit=00:07:00');
  expect(shown).toContain('Reason=JobHeldUser');
  expect(shown).toContain('ArrayTaskId=0-2');
  expect(shown).toContain(`StdOut=/tmp/ui-array-${id}_`); // Slurm expands %A_%a
  execFileSync('scancel', [id]);
});
