// The browser entry: styles, the API under the page's own path, one live stream, the app.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { apiBase, dashboardApi } from './api.ts';
import { App } from './app.ts';
import { html } from './html.ts';
import { LiveFleet } from './live.ts';
import { parseRoute } from './router.ts';

const api = dashboardApi(apiBase(location.pathname));
const fleet = new LiveFleet(api);
// The stream (and after its hello, the snapshot) starts before the first render, not after it.
const route = parseRoute(location.hash);
fleet.connect(route.view === 'node' ? route.name : undefined);
const root = document.getElementById('app');
if (root) render(html`<${App} api=${api} fleet=${fleet} />`, root);
addEventListener('pagehide', () => fleet.close());
