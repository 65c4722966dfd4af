/** Accessibility scans (axe-core) of the panel, the main-area table, details and the dialogs. */
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { execFileSync } from 'child_process';

test.use({ autoGoto: true });

/** Serious and critical violations inside `selector`, as "rule: target" lines. */
async function violations(page: Page, selector: string): Promise<string[]> {
  const result = await new AxeBuilder({ page }).include(selector).analyze();
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .flatMap(v => v.nodes.map(n => `${v.id}: ${n.target.join(' ')}`));
}

test('the panel, the main-area table, details and dialogs have no serious accessibility violations', async ({
  page
}) => {
  const held = execFileSync('sbatch', ['--parsable', '--hold', '--output=/dev/null', '--job-name=ui-a11y'], {
    input: '#!/bin/sh\ntrue\n'
  })
    .toString()
    .trim();
  await page.locator('li[data-id="slurm-lab-queue"]').click();
  const panel = page.locator('#slurm-lab-queue');
  await expect(panel.locator(`.jp-SlurmLab-row[data-job-id="${held}"]`)).toBeVisible({ timeout: 30000 });
  expect(await violations(page, '#slurm-lab-queue')).toEqual([]);

  await panel.locator(`.jp-SlurmLab-row[data-job-id="${held}"]`).dblclick();
  await expect(panel.locator('.jp-SlurmLab-details')).toContainText('ui-a11y');
  expect(await violations(page, '#slurm-lab-queue')).toEqual([]);

  await panel.getByRole('button', { name: 'Cancel', exact: true }).click();
  await expect(page.locator('.jp-Dialog')).toBeVisible();
  expect(await violations(page, '.jp-Dialog')).toEqual([]);
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Keep' }).click();

  await page.evaluate(() => window.jupyterapp.commands.execute('slurm-lab:open-main'));
  await expect(page.locator('#slurm-lab-queue-main .jp-SlurmLab-row[data-job-id]').first()).toBeVisible();
  expect(await violations(page, '#slurm-lab-queue-main')).toEqual([]);

  await page.evaluate(() => {
    void window.jupyterapp.commands.execute('slurm-lab:submit');
  });
  await expect(page.locator('.jp-Dialog').getByLabel('Batch script')).toBeVisible();
  expect(await violations(page, '.jp-Dialog')).toEqual([]);
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Cancel' }).click();
  execFileSync('scancel', [held]);
});

test('the %%slurm job widget and the queue manager have no serious accessibility violations', async ({
  page
}) => {
  await page.notebook.createNew('widgets.ipynb');
  await page.notebook.setCell(0, 'code', '%load_ext slurm_lab');
  await page.notebook.addCell('code', "%%slurm --wait\nprint('hello from the cluster')");
  await page.notebook.addCell('code', '%slurm queue');
  await page.notebook.run();
  await expect(page.locator('.jp-Notebook')).toContainText('hello from the cluster', { timeout: 60000 });
  await expect(page.locator('.jp-Notebook .widget-select-multiple')).toBeVisible({ timeout: 30000 });
  await expect(page.locator('.jp-Notebook')).toContainText('COMPLETED');
  expect(await violations(page, '.jp-Notebook .jp-OutputArea')).toEqual([]);
});
