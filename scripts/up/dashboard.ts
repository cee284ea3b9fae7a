// The dashboard's address as make up prints it: the control plane's /dashboard/ with the
// viewer's token, which the page exchanges for an HttpOnly cookie and drops from the address.
import { DASHBOARD_PATH } from '@edgeplane/api';
import type { ApiEndpoint } from './api-token.ts';

export function dashboardAddress(api: Pick<ApiEndpoint, 'url' | 'token'>): string {
  return `${api.url}${DASHBOARD_PATH}/?token=${encodeURIComponent(api.token)}`;
}
