// The page: header with the connection state, a skip link, and the view the address names.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { DashboardApi } from './api.ts';
import { html } from './html.ts';
import type { LiveFleet, LiveSnapshot } from './live.ts';
import { href, parseRoute, type Route } from './router.ts';
import { DeploymentPage } from './views/deployment.ts';
import { FleetView } from './views/fleet.ts';
import { NodePage } from './views/node.ts';

const CONNECTION_TEXT: Record<LiveSnapshot['connection'], string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  unauthorised: 'not signed in',
};

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

function useLive(fleet: LiveFleet): LiveSnapshot {
  const [live, setLive] = useState(() => fleet.snapshot());
  useEffect(() => fleet.subscribe(setLive), [fleet]);
  return live;
}

export function App({ api, fleet }: { api: DashboardApi; fleet: LiveFleet }) {
  const route = useRoute();
  const live = useLive(fleet);
  const main = useRef<HTMLElement>(null);
  const [filter, setFilterState] = useState(route.view === 'fleet' ? route.filter : '');

  // The node view asks the stream for that node's samples too.
  const node = route.view === 'node' ? route.name : undefined;
  useEffect(() => fleet.connect(node), [node]);

  // A new view: its heading gets focus, so keyboard and screen-reader users start there.
  const routeKey = JSON.stringify(route.view === 'fleet' ? { view: 'fleet' } : route);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
    scrollTo(0, 0);
  }, [routeKey]);
  useEffect(() => {
    document.title = route.view === 'node' ? `${route.name} · edgeplane` : route.view === 'deployment' ? `${route.namespace}/${route.name} · edgeplane` : 'Fleet · edgeplane';
  }, [routeKey]);

  const setFilter = (f: string) => {
    setFilterState(f);
    history.replaceState(null, '', href.fleet(f));
  };

  let view;
  switch (route.view) {
    case 'fleet':
      view = html`<${FleetView} live=${live} filter=${filter} setFilter=${setFilter} />`;
      break;
    case 'node':
      view = html`<${NodePage} api=${api} live=${live} fleet=${fleet} name=${route.name} />`;
      break;
    case 'deployment':
      view = html`<${DeploymentPage} api=${api} live=${live} namespace=${route.namespace} name=${route.name} />`;
      break;
    case 'missing':
      view = html`<section><h1>Not found</h1><p>No view at ${route.hash}. <a href=${href.fleet()}>Back to the fleet</a>.</p></section>`;
      break;
  }

  return html`<a class="skip" href="#main" onClick=${(e: Event) => { e.preventDefault(); main.current?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href=${href.fleet()}>edgeplane</a>
      <nav aria-label="Views"><a href=${href.fleet()} aria-current=${route.view === 'fleet' ? 'page' : undefined}>Fleet</a></nav>
      <span class=${`conn conn-${live.connection}`} role="status" data-testid="connection">${CONNECTION_TEXT[live.connection]}</span>
    </header>
    ${live.error ? html`<div class="banner bad" role="alert">${live.error}</div>` : null}
    <main id="main" ref=${main} tabindex="-1">${view}</main>`;
}
