/**
 * What the browser tests share: Slurm's own CLIs to set up and check jobs, and the panel's
 * locators. Not a spec file: Playwright runs only *.spec.ts.
 */
import { expect } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

/** Submit a 5-minute sleep with sbatch's `args`, output discarded; its job id. */
export function sbatch(...args: string[]): string {
  return execFileSync('sbatch', ['--parsable', '--output=/dev/null', ...args], {
    input: '#!/bin/sh\nsleep 300\n'
  })
    .toString()
    .trim();
}

/** squeue's lines (every state, no header) for `args`. */
export function squeue(...args: string[]): string[] {
  return execFileSync('squeue', ['-h', '--states=all', ...args])
    .toString()
    .split('\n')
    .filter(Boolean);
}

/** `python -m slurm_lab.devcluster ARGS` with the project's interpreter. */
export function devcluster(...args: string[]): void {
  execFileSync(path.resolve(__dirname, '../../.venv/bin/python'), ['-m', 'slurm_lab.devcluster', ...args], {
    stdio: 'inherit'
  });
}

export function row(page: Page, id: string) {
  return page.locator(`.jp-SlurmLab-row[data-job-id="${id}"]`);
}

export async function openPanel(page: Page): Promise<void> {
  await page.locator('li[data-id="slurm-lab-queue"]').click();
  await expect(page.locator('.jp-SlurmLab-panel')).toBeVisible();
}
