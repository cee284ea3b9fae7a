// The message in a Kubernetes API refusal's Status body, however the client handed the body over.
import type { ApiException } from '@kubernetes/client-node';

export function statusMessage(err: ApiException<unknown>): string | undefined {
  try {
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string } | undefined);
    return body?.message;
  } catch {
    return undefined;
  }
}
