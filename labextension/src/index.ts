import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  ReactWidget,
  showDialog
} from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import React from 'react';

import {
  ApiError,
  getOptions,
  getStatus,
  IClusterStatus,
  IJob,
  ISbatchOption,
  Scope,
  submit
} from './api';
import { ISubmitValue, SubmitForm } from './components/SubmitForm';
import { IPanelCommands, QueuePanel } from './components/QueuePanel';
import { baseState, finishedSummary } from './logic';
import { QueueModel } from './model';

const PLUGIN_ID = 'slurm-lab:plugin';
const FRONTEND_VERSION = '0.1.0';

const slurmIcon = new LabIcon({
  name: 'slurm-lab:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="4" width="18" height="3" rx="1"/><rect x="3" y="10.5" width="13" height="3" rx="1"/>' +
    '<rect x="3" y="17" width="8" height="3" rx="1"/></g></svg>'
});

namespace CommandIDs {
  export const open = 'slurm-lab:open';
  export const refresh = 'slurm-lab:refresh';
  export const submit = 'slurm-lab:submit';
  export const submitFile = 'slurm-lab:submit-file';
  export const openMain = 'slurm-lab:open-main';
}

/** The text of the current document for the submit dialog: an editor's text, a notebook's
 * active cell, or a template (a notebook's model is not text). */
function currentScript(widget: unknown): string {
  type Source = { sharedModel?: { getSource(): unknown } };
  const content = (
    widget as {
      content?: { model?: Source; activeCell?: { model?: Source } };
    } | null
  )?.content;
  const cell = content?.activeCell?.model?.sharedModel?.getSource();
  const text = cell ?? content?.model?.sharedModel?.getSource();
  return typeof text === 'string' && text.trim() ? text : '#!/bin/bash\n\n';
}

/** ``root/relative`` keeping root's leading slash (PathExt.join drops it). */
function underRoot(root: string, relative: string): string {
  const base = root.replace(/\/+$/, '');
  return relative ? `${base}/${relative}` : base;
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
    let status: IClusterStatus | null = null;
    try {
      status = await getStatus();
      if (status.version !== FRONTEND_VERSION) {
        Notification.warning(
          `slurm-lab: the server extension is version ${status.version}, this page expects ${FRONTEND_VERSION}; reinstall slurm-lab and reload.`
        );
      }
    } catch (reason) {
      // A 503 is the extension answering that Slurm (munge, SSH, the CLIs) cannot be reached.
      const answered = reason instanceof ApiError && reason.status !== 404;
      Notification.error(
        answered
          ? `slurm-lab: ${reason.message}`
          : 'slurm-lab: the server extension is not answering. Is slurm-lab installed where the Jupyter server runs?'
      );
    }
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
      if (!setting('notifications', true)) {
        return;
      }
      const mine = jobs.filter(j => !status || j.user === status.user);
      if (!mine.length) {
        return;
      }
      // One notification per poll, however many jobs ended; a cancel is not a failure.
      const { text, kind } = finishedSummary(mine);
      Notification[kind](text, { autoClose: kind === 'error' ? 15000 : 8000 });
    });

    const root = status?.root_dir ?? null;
    const commands: IPanelCommands = {
      submit: () => void app.commands.execute(CommandIDs.submit),
      copyAsNew: (job: IJob) => void openSubmitDialog(copyOf(job)),
      openFile: (path: string) =>
        void app.commands.execute('docmanager:open', { path }),
      openFolder: (path: string) =>
        void app.commands.execute('filebrowser:go-to-path', {
          path: `/${path}`
        }),
      contentsPath: (path: string) => {
        if (!root || !path.startsWith('/')) {
          return null;
        }
        const base = root.replace(/\/+$/, '');
        if (path === base) {
          return '';
        }
        return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : null;
      },
      openMain: () => void app.commands.execute(CommandIDs.openMain)
    };
    const copyOf = (job: IJob): ISubmitValue => ({
      script:
        '#!/bin/bash\n# Copied from job ' +
        job.job_id +
        ': put its commands here.\n\n',
      options: Object.fromEntries(
        Object.entries({
          job_name: job.name,
          partition: job.partition,
          time: job.time_limit ?? '',
          nodes: String(job.num_nodes || ''),
          chdir: job.work_dir ?? ''
        }).filter(([, v]) => v && v !== 'UNLIMITED')
      )
    });

    const panel = ReactWidget.create(
      React.createElement(QueuePanel, { model, mode: 'sidebar', commands })
    );
    panel.id = 'slurm-lab-queue';
    panel.title.icon = slurmIcon;
    panel.title.caption = 'Slurm queue';
    panel.addClass('jp-SlurmLab-widget');
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'slurm-lab-queue');

    app.commands.addCommand(CommandIDs.open, {
      label: 'Slurm: Open queue',
      execute: () => app.shell.activateById(panel.id)
    });
    let main: MainAreaWidget<ReactWidget> | null = null;
    app.commands.addCommand(CommandIDs.openMain, {
      label: 'Slurm: Open queue in main area',
      execute: () => {
        if (!main || main.isDisposed) {
          const content = ReactWidget.create(
            React.createElement(QueuePanel, {
              model,
              mode: 'main',
              commands: { ...commands, openMain: undefined }
            })
          );
          content.addClass('jp-SlurmLab-widget');
          main = new MainAreaWidget({ content });
          main.id = 'slurm-lab-queue-main';
          main.title.label = 'Slurm queue';
          main.title.icon = slurmIcon;
          main.title.closable = true;
          app.shell.add(main, 'main');
        }
        app.shell.activateById(main.id);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Slurm: Refresh queue',
      execute: () => model.refresh()
    });
    const openSubmitDialog = async (initial: ISubmitValue) => {
      let options: ISbatchOption[];
      try {
        // Before the form opens: which defaults the script's #SBATCH lines replace depends on it.
        options = await getOptions();
      } catch (reason) {
        Notification.error(
          `slurm-lab: cannot load the submit options: ${String(reason)}`
        );
        return;
      }
      const form = new SubmitForm(initial, options);
      const key = `lab-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      for (;;) {
        const answer = await showDialog({
          title: 'Submit a batch job',
          body: form,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Submit' })]
        });
        if (!answer.button.accept || !answer.value) {
          return;
        }
        try {
          // The same key on a retry: a double click or a lost response never makes two jobs.
          const { job_id } = await submit(
            answer.value.script,
            answer.value.options,
            key
          );
          Notification.success(`Submitted Slurm job ${job_id}`, {
            autoClose: 5000
          });
          app.shell.activateById(panel.id);
          await model.refresh();
          model.select(job_id); // after the refresh, so its rows are there
          return;
        } catch (reason) {
          // The same form again, with the answer on the field at fault and the values kept.
          form.setError(reason);
        }
      }
    };
    app.commands.addCommand(CommandIDs.submit, {
      label: 'Slurm: Submit batch job…',
      execute: () =>
        openSubmitDialog({
          script: currentScript(app.shell.currentWidget),
          options: root ? { chdir: root } : {}
        })
    });
    app.commands.addCommand(CommandIDs.submitFile, {
      label: 'Submit as batch job',
      icon: slurmIcon,
      execute: async () => {
        const item = fileBrowser?.selectedItems().next();
        const path = item && !item.done ? item.value.path : null;
        if (!path) {
          return;
        }
        const file = await app.serviceManager.contents.get(path, {
          content: true,
          format: 'text'
        });
        // The file's own folder as the cluster sees it (known with the local backend only).
        await openSubmitDialog({
          script: String(file.content),
          options: root ? { chdir: underRoot(root, PathExt.dirname(path)) } : {}
        });
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.submitFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 90
    });
    palette?.addItem({ command: CommandIDs.submit, category: 'Slurm' });
    palette?.addItem({ command: CommandIDs.open, category: 'Slurm' });
    palette?.addItem({ command: CommandIDs.refresh, category: 'Slurm' });
    palette?.addItem({ command: CommandIDs.openMain, category: 'Slurm' });

    if (statusBar) {
      const counts = ReactWidget.create(
        React.createElement(StatusCounts, { model, user: status?.user ?? null })
      );
      statusBar.registerStatusItem('slurm-lab:status', {
        item: counts,
        align: 'left',
        rank: 5
      });
    }
  }
};

/** "Slurm: 2 running · 5 pending" for my jobs. */
function StatusCounts(props: {
  model: QueueModel;
  user: string | null;
}): JSX.Element {
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setVersion(v => v + 1);
    props.model.changed.connect(bump);
    return () => {
      props.model.changed.disconnect(bump);
    };
  }, [props.model]);
  const mine = props.model.jobs.filter(
    j => props.user === null || j.user === props.user
  );
  const count = (s: string) =>
    mine.filter(j => baseState(j.state) === s).length;
  return React.createElement(
    'span',
    { className: 'jp-SlurmLab-status', title: 'My Slurm jobs' },
    `Slurm: ${count('RUNNING')} running · ${count('PENDING')} pending`
  );
}

export default plugin;
