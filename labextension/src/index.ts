import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { getStatus } from './api';

/**
 * slurm-lab's JupyterLab plugin. It checks that the server extension answers; the queue
 * panel builds on it.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'slurm-lab:plugin',
  description: 'Slurm in JupyterLab.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    getStatus()
      .then(status => {
        console.log(
          `slurm-lab ${status.version}: ${status.backend} backend, cluster ${status.cluster_name}, controller ${status.controller}`
        );
      })
      .catch(reason => {
        console.error(
          'slurm-lab: the server extension is not answering; is slurm-lab installed in the server environment?',
          reason
        );
      });
  }
};

export default plugin;
