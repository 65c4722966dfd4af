import { expect, test } from '@jupyterlab/galata';
import type { WebSocketRoute } from '@playwright/test';
import { execFileSync } from 'child_process';

import { openPanel, row, sbatch } from './slurm';

test.use({ autoGoto: false });

/**
 * The panel follows the queue over one WebSocket: a job submitted from a shell shows up with no
 * GET of the queue in between, and a running job's clock moves on with no message for it.
 */
test('a job submitted with sbatch is pushed to the panel, no poll needed', async ({ page }) => {
  const gets: string[] = [];
  const frames: { type: string; text: string }[] = [];
  page.on('request', request => {
    if (/slurm-lab\/api\/jobs\?/.test(request.url())) {
      gets.push(request.url());
    }
  });
  page.on('websocket', socket => {
    if (socket.url().includes('slurm-lab/api/jobs/events')) {
      socket.on('framereceived', frame => {
        const text = String(frame.payload);
        frames.push({ type: JSON.parse(text).type, text });
      });
    }
  });
  await page.goto();
  await openPanel(page);
  await expect.poll(() => frames.some(f => f.type === 'snapshot'), { timeout: 20000 }).toBe(true);
  expect(gets.every(url => url.includes('format=table'))).toBe(true);

  const before = gets.length;
  const id = sbatch('--job-name=ui-push');
  try {
    await expect(row(page, id)).toBeVisible({ timeout: 15000 });
    expect(gets.length).toBe(before); // no GET of the queue: it came over the socket
    expect(frames.some(f => f.type === 'delta' && f.text.includes(`"${id}"`))).toBe(true);

    // Running: its time used advances in the browser while nothing is sent for it.
    const time = row(page, id).locator('.jp-SlurmLab-time_used');
    await expect(row(page, id).locator('.jp-SlurmLab-state')).toHaveText('R', { timeout: 30000 });
    const seen = frames.length;
    const first = await time.textContent();
    await expect.poll(async () => await time.textContent(), { timeout: 6000 }).not.toBe(first);
    const mentions = frames.slice(seen).filter(f => f.text.includes(`"${id}"`));
    expect(mentions).toEqual([]);
    expect(gets.length).toBe(before);
  } finally {
    execFileSync('scancel', [id]);
  }
  // And its end is pushed too.
  await expect(row(page, id).locator('.jp-SlurmLab-state')).toHaveText('CA', { timeout: 15000 });
  expect(gets.length).toBe(before);
});

test('when the socket drops it polls at once, then connects again', async ({ page }) => {
  const gets: number[] = [];
  page.on('request', request => {
    if (/slurm-lab\/api\/jobs\?/.test(request.url())) {
      gets.push(Date.now());
    }
  });
  const sockets: WebSocketRoute[] = [];
  const snapshots: number[] = [];
  await page.routeWebSocket(/slurm-lab\/api\/jobs\/events/, socket => {
    sockets.push(socket);
    const server = socket.connectToServer();
    server.onMessage(message => {
      if (JSON.parse(String(message)).type === 'snapshot') {
        snapshots.push(sockets.length);
      }
      socket.send(message);
    });
  });
  await page.goto();
  await openPanel(page);
  await expect.poll(() => snapshots.length, { timeout: 20000 }).toBe(1);
  const before = gets.length;
  const dropped = Date.now();
  await sockets[0].close({ code: 1001, reason: 'a proxy went away' });
  await expect.poll(() => gets.length, { timeout: 3000 }).toBe(before + 1); // at once
  expect(gets[before] - dropped).toBeLessThan(2000);

  // Polled meanwhile: a job submitted now shows up whether or not the socket is back.
  const id = sbatch('--hold', '--job-name=ui-fallback');
  try {
    await expect(row(page, id)).toBeVisible({ timeout: 20000 });
  } finally {
    execFileSync('scancel', [id]);
  }
  // Connected again (after about a second), with a new snapshot; then no more GETs.
  await expect.poll(() => snapshots, { timeout: 10000 }).toContain(2);
  const settled = gets.length;
  await page.waitForTimeout(12000); // more than the 10 s poll interval
  expect(gets.length).toBe(settled);
});

test('a pushed error keeps the rows, marked stale, until the next change clears it', async ({ page }) => {
  const sockets: WebSocketRoute[] = [];
  let snapshot = false;
  await page.routeWebSocket(/slurm-lab\/api\/jobs\/events/, socket => {
    sockets.push(socket);
    const server = socket.connectToServer();
    server.onMessage(message => {
      snapshot ||= JSON.parse(String(message)).type === 'snapshot';
      socket.send(message);
    });
  });
  const held = sbatch('--hold', '--job-name=ui-stale');
  try {
    await page.goto();
    await openPanel(page);
    await expect(row(page, held)).toBeVisible({ timeout: 20000 });
    await expect.poll(() => snapshot, { timeout: 20000 }).toBe(true);
    // What the server sends when its refresh fails (as slurm_lab/feed.py words it).
    sockets[0].send(
      JSON.stringify({
        type: 'error',
        scope: 'mine',
        message: 'Slurm controller unavailable (scontrol ping: not responding)',
        reason: 'controller_unavailable',
        retry_after: 5
      })
    );
    const banner = page.locator('.jp-SlurmLab-banner');
    await expect(banner).toContainText('controller unavailable');
    await expect(banner).toContainText('showing data from');
    await expect(row(page, held)).toBeVisible();
    // The next change (a delta from the real server) says the data are current again.
    const id = sbatch('--hold', '--job-name=ui-stale-2');
    try {
      await expect(row(page, id)).toBeVisible({ timeout: 15000 });
      await expect(banner).toHaveCount(0);
    } finally {
      execFileSync('scancel', [id]);
    }
  } finally {
    execFileSync('scancel', [held]);
  }
});
