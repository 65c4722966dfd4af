import { LabIcon } from '@jupyterlab/ui-components';

/** slurm-lab's icon: three bars of a queue, on the side panel tab and the file menu item. */
export const slurmIcon = new LabIcon({
  name: 'slurm-lab:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="4" width="18" height="3" rx="1"/><rect x="3" y="10.5" width="13" height="3" rx="1"/>' +
    '<rect x="3" y="17" width="8" height="3" rx="1"/></g></svg>'
});
