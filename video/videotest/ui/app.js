// The inspector's live updates: the server sends the live part of the page,
// already rendered and escaped, each time it changes.
'use strict';
(function () {
  const live = document.getElementById('live');
  const conn = document.getElementById('conn');
  const set = (state, text) => { conn.dataset.state = state; conn.textContent = text; };
  if (!window.EventSource) {
    set('off', 'no live updates in this browser: reload to refresh');
    return;
  }
  const es = new EventSource('events' + location.search);
  es.addEventListener('open', () => set('live', 'live'));
  es.addEventListener('error', () => set('retry', 'reconnecting…'));
  es.addEventListener('live', (e) => {
    live.innerHTML = JSON.parse(e.data);
    live.dataset.updates = String(Number(live.dataset.updates || 0) + 1);
    set('live', 'live');
  });
})();
