import { describe, expect, it } from 'vitest';
import { dashboardRoutes, DASHBOARD_API_PATH, DASHBOARD_PATH } from '../../api/src/dashboard.ts';
import { apiBase, routes } from './api.ts';

describe('dashboard routes', () => {
  it('the page at /dashboard/ finds the API where the contract puts it', () => {
    expect(apiBase(`${DASHBOARD_PATH}/`)).toBe(DASHBOARD_API_PATH);
    expect(apiBase(`${DASHBOARD_PATH}/index.html`)).toBe(DASHBOARD_API_PATH);
  });

  it('every path equals the contract, names escaped alike', () => {
    const r = routes(DASHBOARD_API_PATH);
    expect(r.fleet).toBe(dashboardRoutes.fleet);
    for (const name of ['pi-handheld-1', 'a b/c']) {
      expect(r.node(name)).toBe(dashboardRoutes.node(name));
      expect(r.nodeHistory(name)).toBe(dashboardRoutes.nodeHistory(name));
      expect(r.deployment('warehouse', name)).toBe(dashboardRoutes.deployment('warehouse', name));
      expect(r.events(name)).toBe(dashboardRoutes.events(name));
    }
    expect(r.events()).toBe(dashboardRoutes.events());
  });
});
