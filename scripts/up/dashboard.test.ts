import { describe, expect, it } from 'vitest';
import { dashboardAddress } from './dashboard.ts';

describe('dashboardAddress', () => {
  it('puts the token in the query of /dashboard/, escaped', () => {
    const url = new URL(dashboardAddress({ url: 'http://127.0.0.1:8080', token: 'ey.J+b/c=' }));
    expect(url.pathname).toBe('/dashboard/');
    expect(url.searchParams.get('token')).toBe('ey.J+b/c=');
  });
});
