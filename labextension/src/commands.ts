/**
 * slurm-lab's commands (open the queue, refresh, submit), the file browser's "Submit as batch
 * job" item, the palette entries, and the submit dialog they open.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
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
import React from 'react';

import { getJobScript, getOptions, ISbatchOption, willRun } from './api';
import { IPanelCommands, QueuePanel } from './components/QueuePanel';
import { ISubmitValue, SubmitForm } from './components/SubmitForm';
import { slurmIcon } from './icon';
import { contentsPath, copyOfFields, formOptions, underRoot } from './logic';
import { QueueModel } from './model';

/** The command ids (the browser tests and users' shortcuts name them). */
export namespace CommandIDs {
  export const open = 'slurm-lab:open';
  export const refresh = 'slurm-lab:refresh';
  export const submit = 'slurm-lab:submit';
  export const submitFile = 'slurm-lab:submit-file';
  export const openMain = 'slurm-lab:open-main';
}

/** The id of the queue side panel. */
export const PANEL_ID = 'slurm-lab-queue';

/** What the commands work with. */
export interface ICommandContext {
  model: QueueModel;
  /** The Jupyter root as the cluster sees it (local backend), else null. */
  root: string | null;
  fileBrowser: IDefaultFileBrowser | null;
  palette: ICommandPalette | null;
}

/**
 * The text of the current document for the submit dialog: an editor's text, a notebook's
 * active cell, or a template (a notebook's model is not text).
 */
export function currentScript(widget: unknown): string {
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

/**
 * The submit dialog. The option table is loaded before the form opens (which defaults the
 * script's #SBATCH lines replace depends on it). A refused submit shows the same form again
 * with the answer on the field at fault; every retry sends the same idempotency key, so a
 * double click or a lost response never makes two jobs. The model refreshes and selects.
 */
const WILL_IT_RUN = 'Will it run?';

export async function openSubmitDialog(
  app: JupyterFrontEnd,
  model: QueueModel,
  initial: ISubmitValue
): Promise<void> {
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
      buttons: [
        Dialog.cancelButton(),
        Dialog.createButton({ label: WILL_IT_RUN, accept: true }),
        Dialog.okButton({ label: 'Submit' })
      ]
    });
    if (!answer.button.accept || !answer.value) {
      return;
    }
    if (answer.button.label === WILL_IT_RUN) {
      try {
        const will = await willRun(answer.value.script, answer.value.options);
        form.setNote(
          `Slurm would start it at ${will.expected_start ?? 'an unknown time'} on ` +
            `${will.nodes ?? 'unknown nodes'} (${will.processors ?? '?'} CPUs, partition ` +
            `${will.partition ?? 'default'}). No job was made.` +
            (will.warnings.length
              ? ' But it would run into these limits:'
              : ''),
          will.warnings
        );
      } catch (reason) {
        form.setError(reason);
      }
      continue;
    }
    try {
      // The same key on a retry: a double click or a lost response never makes two jobs.
      const jobId = await model.submit(
        answer.value.script,
        answer.value.options,
        key
      );
      Notification.success(`Submitted Slurm job ${jobId}`, {
        autoClose: 5000
      });
      app.shell.activateById(PANEL_ID);
      return;
    } catch (reason) {
      // The same form again, with the answer on the field at fault and the values kept.
      form.setError(reason);
    }
  }
}

/**
 * The submit form's start for resubmitting `jobId`: the script and options slurm-lab kept, or
 * Slurm's copy of the script, else (nobody has it any more) the job's settings and a stub.
 * `suggestions` (right-sizing) are offered, or already applied with `apply`.
 */
export async function resubmitValue(
  jobId: string,
  fields: Record<string, string>,
  suggestions: Record<string, string>,
  apply: boolean
): Promise<ISubmitValue> {
  let value: ISubmitValue;
  try {
    const found = await getJobScript(jobId);
    value = {
      script: found.script,
      options: formOptions(found.options),
      origin:
        found.source === 'kept'
          ? `Job ${jobId}'s script and options, as slurm-lab submitted them.`
          : `Job ${jobId}'s script as Slurm keeps it, with the options its record shows.`
    };
  } catch (reason) {
    value = {
      ...copyOfFields(jobId, fields),
      origin: `Job ${jobId}'s settings; its script is gone (${String(
        (reason as Error).message ?? reason
      )}).`
    };
  }
  return { ...value, suggestions, applySuggestions: apply };
}

/**
 * Register the commands, the file browser's context menu item and the palette entries.
 * Returns what the queue panels ask of JupyterLab.
 */
export function registerCommands(
  app: JupyterFrontEnd,
  context: ICommandContext
): IPanelCommands {
  const { model, root, fileBrowser, palette } = context;
  const commands: IPanelCommands = {
    submit: () => void app.commands.execute(CommandIDs.submit),
    resubmit: (jobId, fields, suggestions, apply) =>
      void resubmitValue(jobId, fields, suggestions ?? {}, apply ?? false).then(
        value => openSubmitDialog(app, model, value)
      ),
    openFile: path => void app.commands.execute('docmanager:open', { path }),
    openFolder: path =>
      void app.commands.execute('filebrowser:go-to-path', {
        path: `/${path}`
      }),
    contentsPath: path => contentsPath(root, path),
    openMain: () => void app.commands.execute(CommandIDs.openMain)
  };

  app.commands.addCommand(CommandIDs.open, {
    label: 'Slurm: Open queue',
    execute: () => app.shell.activateById(PANEL_ID)
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
  app.commands.addCommand(CommandIDs.submit, {
    label: 'Slurm: Submit batch job…',
    execute: () =>
      openSubmitDialog(app, model, {
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
      await openSubmitDialog(app, model, {
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
  for (const command of [
    CommandIDs.submit,
    CommandIDs.open,
    CommandIDs.refresh,
    CommandIDs.openMain
  ]) {
    palette?.addItem({ command, category: 'Slurm' });
  }
  return commands;
}
