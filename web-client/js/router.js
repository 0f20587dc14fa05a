// Hash routes (`#/c/<id>`): no server routing needed, and a reload stays on the screen.

const routes = [
  ['signin', /^\/signin$/],
  ['home', /^\/?$/],
  ['settings', /^\/settings$/],
  ['request', /^\/request$/],
  ['overview', /^\/overview$/],
  ['newRoom', /^\/rooms\/new$/],
  ['reports', /^\/reports$/],
  ['report', /^\/reports\/([^/]+)$/],
  ['assign', /^\/assign$/],
  ['join', /^\/join\/([^/]+)$/],
  ['thread', /^\/c\/([^/]+)\/t\/(\d+)$/],
  ['conversation', /^\/c\/([^/]+)$/],
];

export function currentRoute() {
  const path = decodeURIComponent(location.hash.replace(/^#/, '') || '/');
  for (const [name, pattern] of routes) {
    const match = path.match(pattern);
    if (match) return { name, params: match.slice(1) };
  }
  return { name: 'home', params: [] };
}

export function navigate(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = path;
}
