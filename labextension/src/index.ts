/**
 * The slurm-lab plugin: checks the server extension, builds the queue model, and wires the side
 * panel, the commands, the finished-job notifications and the status bar item.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  Notification,
  ReactWidget
} from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import React from 'react';

import pkg from '../package.json';
import { ApiError, getStatus, IClusterStatus, Scope } from './api';
import { PANEL_ID, registerCommands } from './commands';
import { QueuePanel } from './components/QueuePanel';
import { StatusCounts } from './components/StatusCounts';
import { slurmIcon } from './icon';
import { finishedSummary } from './logic';
import { QueueModel } from './model';

const PLUGIN_ID = 'slurm-lab:plugin';

/** The server's status, after warning about a version mismatch; null (and an error) if none. */
async function checkServer(): Promise<IClusterStatus | null> {
  try {
    const status = await getStatus();
    if (status.version !== pkg.version) {
      Notification.warning(
        `slurm-lab: the server extension is version ${status.version}, this page expects ${pkg.version}; reinstall slurm-lab and reload.`
      );
    }
    return status;
  } catch (reason) {
    // A 503 is the extension answering that Slurm (munge, SSH, the CLIs) cannot be reached.
    const answered = reason instanceof ApiError && reason.status !== 404;
    Notification.error(
      answered
        ? `slurm-lab: ${reason.message}`
        : 'slurm-lab: the server extension is not answering. Is slurm-lab installed where the Jupyter server runs?'
    );
    return null;
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Slurm queue panel, notifications and status bar.',
  autoStart: true,
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IStatusBar,
    IDefaultFileBrowser
  ],
  activate: async (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null,
    fileBrowser: IDefaultFileBrowser | null
  ) => {
    const status = await checkServer();
    const settings = settingRegistry
      ? await settingRegistry.load(PLUGIN_ID)
      : null;
    const setting = <T>(key: string, fallback: T): T =>
      (settings?.get(key).composite as T | undefined) ?? fallback;

    const model = new QueueModel({
      interval: setting('refreshInterval', 10),
      scope: setting<Scope>('defaultScope', 'mine')
    });
    settings?.changed.connect(() => {
      model.interval = setting('refreshInterval', 10);
    });
    model.finished.connect((_, jobs) => {
      const mine = jobs.filter(j => !status || j.user === status.user);
      if (!setting('notifications', true) || !mine.length) {
        return;
      }
      // One notification per poll, however many jobs ended; a cancel is not a failure.
      const { text, kind } = finishedSummary(mine);
      Notification[kind](text, { autoClose: kind === 'error' ? 15000 : 8000 });
    });

    const commands = registerCommands(app, {
      model,
      root: status?.root_dir ?? null,
      fileBrowser,
      palette
    });
    const panel = ReactWidget.create(
      React.createElement(QueuePanel, { model, mode: 'sidebar', commands })
    );
    panel.id = PANEL_ID;
    panel.title.icon = slurmIcon;
    panel.title.caption = 'Slurm queue';
    panel.addClass('jp-SlurmLab-widget');
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, PANEL_ID);

    statusBar?.registerStatusItem('slurm-lab:status', {
      item: ReactWidget.create(
        React.createElement(StatusCounts, { model, user: status?.user ?? null })
      ),
      align: 'left',
      rank: 5
    });
  }
};

export default plugin;
