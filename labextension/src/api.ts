/**
 * The one client of the slurm-lab REST API (`{base_url}slurm-lab/api/`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IClusterStatus {
  backend: string;
  cluster_name: string | null;
  slurm_version: string | null;
  user: string;
  controller: 'up' | 'down';
  message: string;
  version: string;
}

/** An error answered by the API: its HTTP status, message and machine-readable reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string
  ) {
    super(message);
  }
}

export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'slurm-lab/api', endPoint);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  const data: unknown = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const body = data as { message?: string; reason?: string };
    throw new ApiError(
      response.status,
      body.message ?? response.statusText,
      body.reason ?? 'http_error'
    );
  }
  return data as T;
}

export function getStatus(): Promise<IClusterStatus> {
  return requestAPI<IClusterStatus>('status');
}
