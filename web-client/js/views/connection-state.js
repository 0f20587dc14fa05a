// The connection indicator in the header: Online, Connecting…, Reconnecting in N s… (a
// real countdown to the next attempt, with "Retry now"), Offline. The live region says
// each state once; the ticking seconds are hidden from screen readers so they are not
// read out every second.

const WORDS = {
  loading: 'Loading…',
  connecting: 'Connecting…',
  online: 'Online',
  offline: 'Offline — messages will be sent when you are back',
};

export function mountConnectionState(app) {
  const { connection } = app;
  const pill = document.getElementById('connection-state');
  const retry = document.getElementById('retry-now');
  let ticker = null;

  retry.addEventListener('click', () => connection.reconnectNow());

  function render(state, detail) {
    clearInterval(ticker);
    ticker = null;
    pill.dataset.state = state;
    retry.hidden = true;
    if (state === 'reconnecting' && detail?.retryAt) {
      const seconds = document.createElement('span');
      seconds.setAttribute('aria-hidden', 'true');
      const tick = () => {
        seconds.textContent = ` in ${Math.max(1, Math.ceil((detail.retryAt - Date.now()) / 1000))} s`;
      };
      tick();
      pill.replaceChildren('Reconnecting', seconds, '…');
      ticker = setInterval(tick, 250);
      retry.hidden = false;
      return;
    }
    if (state === 'stopped') {
      pill.textContent = detail === 'reauth' ? 'Signing in again…' : 'Not connected';
      return;
    }
    pill.textContent = state === 'reconnecting' ? 'Reconnecting…' : WORDS[state] || state;
  }

  connection.on('state', render);
}
