import { Dialog, showDialog } from '@jupyterlab/apputils';

/** Ask before a destructive action; the safe button has the focus, so Enter keeps the jobs. */
export async function confirmAction(
  title: string,
  question: string,
  label: string
): Promise<boolean> {
  const answer = await showDialog({
    title,
    body: question,
    buttons: [
      Dialog.cancelButton({ label: 'Keep' }),
      Dialog.warnButton({ label })
    ],
    defaultButton: 0
  });
  return answer.button.accept;
}
